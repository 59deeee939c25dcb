"""The AWS provider passes the shared provider contract against moto over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from providers.aws import AWSProvider
from providers.base import OfferQuery
from tests.contract.suite import ContractHarness, ProviderContract
from tests.providers.aws.conftest import REGION


class TestAWSProviderContract(ProviderContract):
    unknown_instance_id = "i-0000000000000dead"

    @pytest.fixture
    def harness(self, make_provider: Callable[..., AWSProvider]) -> ContractHarness:
        return ContractHarness(
            provider=make_provider(), offer_query=OfferQuery(gpu_model="A10G", regions=(REGION,))
        )
