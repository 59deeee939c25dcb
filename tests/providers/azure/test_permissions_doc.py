"""Every ARM call of a whole cycle (offers, prices, launch, eviction, describe, listing, terminate, credentials,
launch preflight) maps to an action of the custom role in docs/clouds/azure.md, and the role asks for nothing the
cycle does not use (beyond what only a config option needs): recorded by the fake ARM's request log."""

from __future__ import annotations

from providers.azure import AzureProvider
from tests.docs.permissions import azure_actions
from tests.providers.azure import helpers
from tests.providers.azure.fake_arm import FakeArm

VERB = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
# A PUT that references another resource needs that resource's join action
# (https://learn.microsoft.com/en-us/azure/virtual-network/virtual-network-network-interface#permissions).
JOINS = {"microsoft.network/networkinterfaces/write": "microsoft.network/virtualnetworks/subnets/join/action",
         "microsoft.compute/virtualmachines/write": "microsoft.network/networkinterfaces/join/action"}
# The fake answers every long-running operation at one URL; ARM polls each provider's own locations/operations.
OPERATIONS = {"microsoft.compute/locations/operations/read", "microsoft.network/locations/operations/read"}
PUBLIC = {"/api/retail/prices", "/msi/token"}  # the Retail Prices API and the identity endpoint: no ARM action
# only with `image: {id: ...}`: a managed image, or an image version of a compute gallery
CONDITIONAL = {"microsoft.compute/images/read", "microsoft.compute/galleries/images/versions/read"}


def action_of(method: str, path: str) -> set[str]:
    """ARM's action for a request: the provider namespace, the resource types of the path, and the verb
    (https://learn.microsoft.com/en-us/azure/role-based-access-control/resource-provider-operations)."""
    if path in PUBLIC:
        return set()
    if path.startswith("/fake/operations/"):
        return OPERATIONS
    namespace, *rest = path.split("/providers/", 1)[1].split("/")
    action = "/".join([namespace, *rest[0::2], VERB[method]]).lower()
    return {action, JOINS[action]} if action in JOINS else {action}


def test_every_call_of_a_cycle_is_allowed_by_the_documented_role_and_nothing_more(
    provider: AzureProvider, arm: FakeArm
) -> None:
    assert provider.check_credentials().account
    offer = helpers.offer(provider)
    assert provider.spot_prices([offer])
    info = provider.launch(helpers.spec(offer, cluster="c-iam"))
    assert provider.list_managed("c-iam")
    arm.evict(info.id.rsplit("/", 1)[-1])
    assert provider.describe([info.id])[0].preempted
    provider.terminate([info.id])
    assert not [r for r in provider.preflight("https://spotwise.example.com") if not r.ok]

    needed = {a for method, path in arm.state.requests for a in action_of(method, path)}
    documented = {a.lower() for a in azure_actions()}
    assert needed - documented == set(), "calls the role in docs/clouds/azure.md does not allow"
    assert documented - needed - CONDITIONAL == set(), "actions in the role that no call of the cycle needs"
