"""The local provider passes the shared provider contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.base import OfferQuery
from providers.local import LocalProvider
from tests.contract.suite import ContractHarness, ProviderContract


class TestLocalProviderContract(ProviderContract):
    unknown_instance_id = "local-000000000000"

    @pytest.fixture
    def harness(self, tmp_path: Path) -> ContractHarness:
        return ContractHarness(provider=LocalProvider(tmp_path / "local"), offer_query=OfferQuery(gpu_model="A10G"))
