"""The one place Azure SDK clients are built, so every client shares endpoint, credential and polling.

Why one factory: a client built elsewhere with defaults would talk to the real ARM endpoint, poll
long-running operations every 30 s, and retry on its own underneath our classified retries. Here:
- `base_url` may point at a fake ARM server; plain `http://` is allowed only to a loopback host,
  because azure-core refuses to send bearer tokens over http (and retries that refusal for ~5 s).
  The override policy below lifts the refusal for loopback only, never for a remote host.
- `polling_interval` is passed through (0 in tests; `Retry-After: 0` alone does not shorten it).
- azure-core's own retry policy is switched off (`retry_total=0`): the adapter retries classified
  Transient/Throttled errors once, with the shared helper, honouring Retry-After (see calls.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
from azure.mgmt.network import NetworkManagementClient

ARM_SCOPE = "https://management.azure.com/.default"


class LoopbackHttpAuthenticationPolicy(ARMChallengeAuthenticationPolicy):
    """ARM bearer auth that may send its token over plain http, to a loopback fake only."""

    def on_request(self, request: Any) -> None:
        request.context["enforce_https"] = False
        super().on_request(request)


def is_loopback_http(url: str) -> bool:
    """True for http://127.0.0.1:PORT, http://[::1]:PORT or http://localhost:PORT."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class AzureClients:
    """The SDK clients one provider instance uses."""

    compute: ComputeManagementClient
    network: NetworkManagementClient


def make_clients(
    credential: TokenCredential,
    subscription_id: str,
    *,
    base_url: str = "https://management.azure.com",
    polling_interval: float = 15.0,
    connection_verify: str | bool = True,
    authentication_policy: Any = None,
) -> AzureClients:
    """Build the compute and network clients for one subscription.

    `authentication_policy` overrides the default (tests may pass their own); an http base URL that is
    not loopback is refused outright rather than silently sending a token in the clear.
    """
    if urlsplit(base_url).scheme == "http":
        if not is_loopback_http(base_url):
            raise ValueError(f"azure base_url {base_url!r}: plain http is only allowed to a loopback host")
        if authentication_policy is None:
            authentication_policy = LoopbackHttpAuthenticationPolicy(credential, ARM_SCOPE)
    kwargs: dict[str, Any] = {
        "base_url": base_url,
        "polling_interval": polling_interval,
        "retry_total": 0,
        "connection_verify": connection_verify,
    }
    if authentication_policy is not None:
        kwargs["authentication_policy"] = authentication_policy
    return AzureClients(
        compute=ComputeManagementClient(credential, subscription_id, **kwargs),
        network=NetworkManagementClient(credential, subscription_id, **kwargs),
    )
