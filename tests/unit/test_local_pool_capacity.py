"""The local provider's `pool_capacity`: a pool that runs out of room raises CapacityError like a cloud zone, with
real agent processes and real instance records (the e2e gang capacity test relies on it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.cli.demo import free_port
from providers.base import AgentBootstrap, LaunchSpec, OfferQuery
from providers.errors import CapacityError, InvalidRequest
from providers.local import LocalProvider, processes


def _spec(provider: LocalProvider, key: str) -> LaunchSpec:
    [offer] = [o for o in provider.list_offers(OfferQuery(spot=False))
               if o.zone == "local-east-a" and o.instance_type == "c7i.large"]
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens: the agent just retries until terminated
    return LaunchSpec(idempotency_key=key, cluster_id="cap-test", job_id="j", attempt_id="a", offer=offer,
                      bootstrap=AgentBootstrap(api_url=url, attempt_id="a", token="t"))


def test_a_full_pool_raises_capacity_error_and_frees_up_on_terminate(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, pool_capacity={"local-east-a:c7i.large": 1})
    try:
        first = provider.launch(_spec(provider, "k-0"))
        assert provider.launch(_spec(provider, "k-0")).id == first.id  # a repeat is not a second instance
        with pytest.raises(CapacityError) as err:
            provider.launch(_spec(provider, "k-1"))
        assert "no capacity for c7i.large in local-east-a (1 of 1 instances in use)" in str(err.value)
        provider.terminate([first.id])
        second = provider.launch(_spec(provider, "k-1"))
        assert second.id != first.id
    finally:
        for pid in processes.cluster_pids("cap-test"):
            os.kill(pid, 9)


@pytest.mark.parametrize("bad", [{"local-east-a": -1}, {"local-east-a": "two"}, {"": 1}, {"local-east-a": True}])
def test_bad_pool_capacity_is_a_clear_error(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest) as err:
        LocalProvider(tmp_path, pool_capacity=bad)  # type: ignore[arg-type]
    assert "must map 'ZONE' or 'ZONE:TYPE' to a whole number >= 0" in str(err.value)
