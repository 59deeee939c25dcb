"""The instance's identity proof for the bootstrap exchange, read from the cloud's metadata server.

SPOTWISE_IDENTITY names the source (the start-up script sets it to the cloud's name), optionally with another
metadata address after a colon (`aws:URL`: tests use fake servers; the local provider's `local:ID`). The cloud's
plugin reads the proof (`fetch_proof` of the identity module its `CloudPlugin.identity` names:
providers/identity.py; e.g. AWS's signed instance identity document, GCP's identity token, Azure's attested
document). "" sends no proof (a provider without instance identity). The daemon checks the proof:
orchestrator/identity.
"""

from __future__ import annotations

from typing import Any

from providers.plugin import identity_module, plugins


def identity_proof(source: str, *, audience: str, claim: str, timeout: float = 5.0) -> dict[str, Any]:
    """The proof for `source` (see the module docstring); raises httpx errors for the caller to retry."""
    kind, _, url = source.partition(":")
    if kind == "":
        return {}
    module = identity_module(kind)
    if module is None:
        known = ", ".join(p.name for p in plugins() if p.identity)
        raise ValueError(f"unknown SPOTWISE_IDENTITY {source!r}; use {known} (optionally :URL)")
    proof: dict[str, Any] = module.fetch_proof(url, audience=audience, claim=claim, timeout=timeout)
    return proof
