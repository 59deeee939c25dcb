"""/v1/providers: which clouds the daemon has, whether their credentials work, one-time cloud setup.

These run in the daemon, not in the CLI, because the daemon holds the provider configuration and
the cloud credentials (instance profile, managed identity, ADC); the CLI stays a thin client and
needs no cloud SDK. Admin only: a credential probe reveals account ids, and setup creates cloud
resources.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from orchestrator.api.deps import AdminDep, RuntimeDep
from orchestrator.api.errors import ApiError
from orchestrator.logs import get_logger
from orchestrator.provisioning.preflight import preflight_rows, row_dict
from orchestrator.runtime import Runtime
from providers.base import Provider
from providers.errors import ProviderError

log = get_logger(__name__)

router = APIRouter(prefix="/v1/providers", tags=["providers"])

# Provider method name -> what it sets up. A provider that has none of these needs no setup.
SETUP_METHODS = ("setup_interruption_events",)


def _provider(rt: Runtime, name: str) -> Provider:
    provider = rt.providers.get(name)
    if provider is None:
        if name in rt.provider_errors:
            raise ApiError(409, "provider_unavailable", f"provider {name} failed to load: {rt.provider_errors[name]}")
        configured = ", ".join(sorted(rt.providers)) or "none"
        raise ApiError(404, "not_found", f"provider {name} is not configured (configured: {configured}); "
                       "add it under `providers:` in the daemon config")
    return provider


@router.get("")
def list_providers(_: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    """Configured providers: loaded ones with their capabilities, and those that failed to load."""
    items: list[dict[str, Any]] = [
        {"name": name, "loaded": True, "capabilities": sorted(str(c) for c in provider.capabilities),
         "setup": [m for m in SETUP_METHODS if callable(getattr(provider, m, None))], "error": None}
        for name, provider in sorted(rt.providers.items())
    ]
    items += [{"name": name, "loaded": False, "capabilities": [], "setup": [], "error": error}
              for name, error in sorted(rt.provider_errors.items())]
    return {"items": items}


@router.get("/check")
def check_providers(_: AdminDep, rt: RuntimeDep,
                    name: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    """Probe each provider's credentials; a failure is reported per provider, not as a failed request."""
    names = name or sorted(set(rt.providers) | set(rt.provider_errors))
    items: list[dict[str, Any]] = []
    for provider_name in names:
        if provider_name in rt.provider_errors and provider_name not in rt.providers:
            items.append({"name": provider_name, "ok": False, "account": None, "detail": "",
                          "error": f"failed to load: {rt.provider_errors[provider_name]}"})
            continue
        provider = _provider(rt, provider_name)
        try:
            identity = provider.check_credentials()
        except ProviderError as exc:
            log.warning("credentials_check_failed", provider=provider_name, error=str(exc))
            items.append({"name": provider_name, "ok": False, "account": None, "detail": "",
                          "error": f"{type(exc).__name__}: {exc}"})
            continue
        items.append({"name": provider_name, "ok": True, "account": identity.account, "detail": identity.detail,
                      "error": None})
    return {"items": items}


@router.get("/preflight")
def preflight(_: AdminDep, rt: RuntimeDep, name: Annotated[list[str] | None, Query()] = None,
              cloud_calls: bool = True) -> dict[str, Any]:
    """Will a launch work, per provider and region: credentials, image, network per zone, quotas, a launch that
    costs nothing where the cloud has one (orchestrator/provisioning/preflight.py). Failing checks are rows, not a
    failed call."""
    for provider_name in name or []:
        if provider_name not in rt.providers and provider_name not in rt.provider_errors:
            _provider(rt, provider_name)  # 404 with the configured names
    rows = preflight_rows(rt, name, cloud_calls=cloud_calls)
    return {"items": [row_dict(r) for r in rows], "ok": all(r.ok for r in rows)}


@router.post("/{name}/setup")
def setup_provider(name: str, _: AdminDep, rt: RuntimeDep) -> dict[str, Any]:
    """Create (idempotently) the cloud-side resources a provider needs, e.g. AWS's interruption queue."""
    provider = _provider(rt, name)
    steps = {m: getattr(provider, m) for m in SETUP_METHODS if callable(getattr(provider, m, None))}
    if not steps:
        return {"name": name, "setup": {}, "message": f"provider {name} needs no setup"}
    done: dict[str, Any] = {}
    for method, call in steps.items():
        try:
            done[method] = call()
        except ProviderError as exc:
            raise ApiError(502, "provider_error", f"{method} failed: {type(exc).__name__}: {exc}") from None
        log.info("provider_setup", provider=name, step=method)
    return {"name": name, "setup": done, "message": f"provider {name} is set up"}
