"""Can an agent on a cloud instance reach the daemon at `public_url`, without its token crossing in the clear?

Why: `public_url` defaulted to http://127.0.0.1:8470 (the bind address). With a cloud provider configured, every
instance then called its own loopback: no agent ever reported, and each attempt was lost to the heartbeat
timeout after the VM had been paid for. And the agent's bearer token travels in every request to that URL, so a
plain `http://` URL to a host on another machine hands it to anyone on the path.

`spotwise serve` refuses to start on either, in one line, before anything else runs. Two documented opt-ins:
`allow_insecure_public_url` (plain http across a private network, VPN or tunnel the admin trusts) and
`allow_loopback_public_url` (only for clouds simulated on this machine: moto and the fake servers of the tests).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from providers.plugin import plugin


def cloud_providers(providers: Mapping[str, Any]) -> list[str]:
    """The configured providers that start instances on a remote cloud: those whose plugin declares
    `remote_instances` (local and faulty-over-local do not; `faulty` counts when it wraps one that does)."""
    found = []
    for name, section in providers.items():
        inner = section.get("wraps", "local") if name == "faulty" and isinstance(section, Mapping) else name
        declared = plugin(str(inner))
        if declared is not None and declared.remote_instances:
            found.append(name)
    return found


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.lower().rstrip("."))
    except ValueError:
        return None


def _names_this_machine(host: str) -> bool:
    """The names that always mean this machine (RFC 6761: localhost and *.localhost)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: an address only this machine can reach (shared by every URL check)."""
    address = _address(host)
    return _names_this_machine(host) or (address is not None and address.is_loopback)


def _is_loopback_or_unspecified(host: str) -> bool:
    """Loopback, or 0.0.0.0 / :: (a bind-all address, which names no host an instance could call)."""
    address = _address(host)
    return is_loopback_host(host) or (address is not None and address.is_unspecified)


def public_url_problem(public_url: str, providers: Mapping[str, Any], *, allow_insecure: bool,
                       allow_loopback: bool) -> str | None:
    """Why instances could not (or should not) reach the daemon at `public_url`; None when they can.

    Only matters with a cloud provider configured: local instances run on this machine and use loopback."""
    clouds = cloud_providers(providers)
    if not clouds:
        return None
    where = f"with cloud provider(s) {', '.join(clouds)} configured"
    try:
        parts = urlsplit(public_url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number or out of range
    except ValueError as exc:
        return f"public_url {public_url!r} is not a valid URL ({exc}); set SPOTWISE_PUBLIC_URL to https://HOST[:PORT]"
    if parts.scheme not in ("http", "https") or not host:
        return (f"public_url {public_url!r} is not an http(s) URL with a host; set SPOTWISE_PUBLIC_URL to the "
                "https://HOST[:PORT] at which instances reach this daemon")
    if _is_loopback_or_unspecified(host):
        if allow_loopback:
            return None
        return (f"public_url is {public_url} {where}: an agent on a cloud instance cannot reach this machine there; "
                "set public_url (SPOTWISE_PUBLIC_URL) to the https:// address of this daemon (or of the load "
                "balancer in front of it) that instances can reach")
    if parts.scheme == "http" and not allow_insecure:
        return (f"public_url {public_url} is plain http {where}: the agent token would cross the network "
                "unencrypted; use https:// (a TLS proxy in front of the daemon), or set allow_insecure_public_url: "
                "true (SPOTWISE_ALLOW_INSECURE_PUBLIC_URL=true) for a private network or tunnel you trust")
    return None
