"""The out-of-tree toycloud (tests/plugins), loaded through its entry point, passes the shared provider contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from providers import registry
from providers.base import OfferQuery
from providers.plugin import plugins
from tests.contract.suite import ContractHarness, ProviderContract

PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"


class TestToyCloudContract(ProviderContract):
    unknown_instance_id = "local-000000000000"

    @pytest.fixture
    def harness(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractHarness]:
        monkeypatch.syspath_prepend(str(PLUGINS_DIR))
        plugins.cache_clear()
        provider = registry.create_provider("toycloud", {}, home=tmp_path)
        assert provider.name == "toycloud"
        yield ContractHarness(provider=provider, offer_query=OfferQuery(gpu_model="A10G"))
        plugins.cache_clear()
