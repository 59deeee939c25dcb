"""The GCP provider passes the shared provider contract against the fake Compute Engine server."""

from __future__ import annotations

from typing import Any

import pytest

from providers.base import OfferQuery
from tests.contract.suite import ContractHarness, ProviderContract


class TestGCPProviderContract(ProviderContract):
    unknown_instance_id = "us-central1-a/sw-00000000000000000000"

    @pytest.fixture
    def harness(self, provider: Any) -> ContractHarness:
        return ContractHarness(provider=provider, offer_query=OfferQuery(gpu_model="L4"))
