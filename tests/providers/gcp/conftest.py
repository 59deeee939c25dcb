"""Session-scoped fake Compute Engine server; each test gets clean state and a fresh provider."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.providers.gcp.fake_gce import FakeGCE, FakeGCEServer

SHARED_CATALOG = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "catalog" / "gcp" / "vms.csv"


@pytest.fixture(scope="session")
def gce_server() -> Iterator[FakeGCEServer]:
    server = FakeGCEServer().start()
    yield server
    server.stop()


@pytest.fixture
def gce(gce_server: FakeGCEServer) -> FakeGCE:
    """The fake's state, reset before each test so tests never see each other's instances or knobs."""
    gce_server.fake.reset()
    return gce_server.fake


@pytest.fixture
def gcp_config(gce_server: FakeGCEServer, gce: FakeGCE) -> Callable[..., dict[str, Any]]:
    def make(**overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "project": gce.project, "credentials": "anonymous", "endpoint": gce_server.url,
            "billing_endpoint": gce_server.url, "operation_timeout_s": 10.0, "request_timeout_s": 10.0,
        }
        config.update(overrides)
        return config

    return make


@pytest.fixture
def make_provider(gcp_config: Callable[..., dict[str, Any]], tmp_path: Path) -> Callable[..., Any]:
    from providers.gcp import GCPProvider

    def make(**overrides: Any) -> GCPProvider:
        return GCPProvider.from_config(gcp_config(**overrides), home=tmp_path)

    return make


@pytest.fixture
def provider(make_provider: Callable[..., Any]) -> Any:
    return make_provider()
