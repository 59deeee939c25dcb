"""1,000 managed instances: API calls grow with N / page size, not with N."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from providers.aws import AWSProvider
from providers.base import TAG_CLUSTER
from tests.providers.aws.conftest import AMI, REGION, Injector

N = 1000
PAGE = 250
MOTO_PAGE = 100  # moto's server-side page when ids are given without MaxResults


@pytest.fixture
def thousand(ec2_backend: Any) -> list[str]:
    """N instances in N reservations (as N launches make them), created in-process: N HTTP calls would
    cost ~8 s on this machine and test nothing of the adapter."""
    ids = []
    for _ in range(N):
        reservation = ec2_backend.run_instances(
            AMI, 1, None, [], instance_type="g5.xlarge", is_instance_type_default=False, region_name=REGION,
            placement="us-east-1a", tags={"instance": {TAG_CLUSTER: "big"}},
        )
        ids.extend(i.id for i in reservation.instances)
    return ids


def test_list_managed_pages_and_describe_batches(
    make_provider: Callable[..., AWSProvider], injector: Injector, thousand: list[str]
) -> None:
    provider = make_provider(page_size=PAGE)
    listed = provider.list_managed("big")
    assert sorted(i.id for i in listed) == sorted(thousand)
    assert injector.count("ec2", "DescribeInstances") == math.ceil(N / PAGE)
    assert all(body["MaxResults"] == [str(PAGE)] for body in injector.bodies[("ec2", "DescribeInstances")])

    injector.calls.clear()
    injector.bodies.clear()
    described = provider.describe(thousand)
    assert len(described) == N
    # One request of 1000 ids; AWS answers it in one page, moto pages it by 100 reservations.
    assert len(injector.bodies[("ec2", "DescribeInstances")][0]) > N  # all ids went in the first request
    assert injector.count("ec2", "DescribeInstances") == math.ceil(N / MOTO_PAGE)

    injector.calls.clear()
    injector.bodies.clear()
    provider.terminate(thousand)
    assert injector.count("ec2", "TerminateInstances") == 1
    assert provider.list_managed("big") == []
