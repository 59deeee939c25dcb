"""Config parsing, the client factory, registry wiring, names and labels."""

from __future__ import annotations

import re
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from providers.base import Capability, Provider
from providers.errors import AuthError, InvalidRequest, TransientError
from providers.gcp import GCPProvider
from providers.gcp.labels import from_instance, label_value, to_labels
from providers.gcp.launch import instance_name, request_id
from providers.registry import create_provider
from tests.providers.gcp.fake_gce import FakeGCE

RFC1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def test_registry_builds_the_provider_from_config(gcp_config: Any, tmp_path: Path) -> None:
    provider = create_provider("gcp", gcp_config(), tmp_path)
    assert isinstance(provider, GCPProvider) and isinstance(provider, Provider)
    assert provider.name == "gcp" and Capability.SPOT in provider.capabilities
    assert provider.check_credentials().account == "spotwise-test"


def test_unknown_config_key_lists_the_valid_ones(gcp_config: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="valid keys: .*billing_endpoint"):
        GCPProvider.from_config(gcp_config(zone="us-central1-a"), home=tmp_path)


def test_missing_project_says_how_to_set_it(gcp_config: Any, tmp_path: Path) -> None:
    config = gcp_config()
    del config["project"]
    with pytest.raises(AuthError, match="gcp.project"):
        GCPProvider.from_config(config, home=tmp_path)


def test_every_compute_client_uses_the_configured_endpoint(provider: GCPProvider, gce: FakeGCE) -> None:
    """A client without the endpoint would reach the real Google API (the ExtendedOperation trap)."""
    clients = provider.clients
    endpoint = provider.settings.endpoint
    for field in fields(clients):
        client = getattr(clients, field.name)
        assert client._transport._host == endpoint, field.name


def test_unreachable_endpoint_is_transient_after_retries(make_provider: Any, monkeypatch: Any) -> None:
    import providers.gcp.provider as module

    calls = []
    original = module.with_retries

    def counting(call: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(call, attempts=2, base_delay=0.0)

    monkeypatch.setattr(module, "with_retries", counting)
    provider = make_provider(endpoint="http://127.0.0.1:9", request_timeout_s=1.0)
    with pytest.raises(TransientError):
        provider.check_credentials()
    assert calls == [1]


def test_instance_name_and_request_id_are_deterministic_and_valid() -> None:
    key = "Attempt/With Upper+Odd_chars" * 5
    assert instance_name(key) == instance_name(key) != instance_name(key + "x")
    assert RFC1035.match(instance_name(key))
    assert uuid.UUID(request_id(key)).version == 5 and request_id(key) == request_id(key)


@pytest.mark.parametrize("value", ["job-abc123", "", "a_b-c"])
def test_valid_label_values_are_unchanged(value: str) -> None:
    assert label_value(value) == value


def test_invalid_label_values_are_sanitised_without_collisions() -> None:
    a, b = label_value("Team A"), label_value("team-a")
    assert a != b and re.match(r"^[a-z0-9_-]{1,63}$", a)
    long_a, long_b = label_value("y" * 70 + "1"), label_value("y" * 70 + "2")
    assert len(long_a) <= 63 and long_a != long_b
    assert label_value("Team A") == a


def test_tags_come_back_from_labels_when_metadata_disagrees() -> None:
    labels = to_labels({"spotwise-cluster": "c1"})
    assert from_instance(labels, '{"spotwise-cluster": "other"}') == {"spotwise-cluster": "c1"}
    assert from_instance(labels, "not json") == {"spotwise-cluster": "c1"}
