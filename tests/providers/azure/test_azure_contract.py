"""The Azure provider passes the shared provider contract against the fake ARM server, through the
real azure-mgmt-compute / azure-mgmt-network clients."""

from __future__ import annotations

import pytest

from providers.azure import AzureProvider
from providers.base import OfferQuery
from tests.contract.suite import ContractHarness, ProviderContract


class TestAzureProviderContract(ProviderContract):
    unknown_instance_id = "spotwise-000000000000000000000000"

    @pytest.fixture
    def harness(self, provider: AzureProvider) -> ContractHarness:
        return ContractHarness(provider=provider, offer_query=OfferQuery(gpu_model="A100-80GB"))
