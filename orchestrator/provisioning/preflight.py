"""The launch preflight across the daemon's providers: will a launch work, asked before the first job pays for it.

The providers do the checking (`providers.base.Preflight`: only providers talk to clouds); this module adds the one
check that is the daemon's own, whether an instance could reach `public_url`, and runs it all where the daemon's
configuration and credentials are: `GET /v1/providers/preflight` (`spotwise providers check --launch`), and at
`spotwise serve` start. At start the configuration-only part runs before serving, and the part that asks the clouds
runs in the background afterwards: a slow or unreachable cloud never delays the API, and each failing row is logged
as a warning naming its fix.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

from orchestrator.config import Settings
from orchestrator.logs import get_logger
from orchestrator.publicurl import cloud_providers, public_url_problem
from orchestrator.runtime import Runtime
from providers.base import PreflightRow, run_preflight

log = get_logger(__name__)
DAEMON = "daemon"


def public_url_row(settings: Settings) -> PreflightRow | None:
    """`public_url` as an instance would see it. Stricter than start-up: loopback fails even when
    `allow_loopback_public_url` lets the daemon start, because no instance of a real cloud could reach it."""
    if not cloud_providers(settings.providers):
        return None
    url = settings.effective_public_url
    problem = public_url_problem(url, settings.providers, allow_insecure=settings.allow_insecure_public_url,
                                 allow_loopback=False)
    if problem is None:
        return PreflightRow("public_url", DAEMON, "-", True, detail=url)
    if settings.allow_loopback_public_url and public_url_problem(
            url, settings.providers, allow_insecure=settings.allow_insecure_public_url, allow_loopback=True) is None:
        problem += " (allow_loopback_public_url is set: right only for clouds simulated on this machine)"
    return PreflightRow("public_url", DAEMON, "-", False, fix=problem)


def preflight_rows(rt: Runtime, names: Sequence[str] | None = None, *, cloud_calls: bool = True) -> list[PreflightRow]:
    """Every row for the named providers (default: all configured, loaded or not), the public_url row first."""
    rows = [row] if (row := public_url_row(rt.settings)) is not None else []
    api_url = rt.settings.effective_public_url
    for name in names or sorted(set(rt.providers) | set(rt.provider_errors)):
        provider = rt.providers.get(name)
        if provider is None:
            error = rt.provider_errors.get(name, "not configured: add it under `providers:` in the daemon config")
            rows.append(PreflightRow("load", name, "-", False, fix=f"the provider did not load: {error}"))
            continue
        try:
            # under the name it is configured as (a provider class may serve under another name)
            rows.extend(dataclasses.replace(r, provider=name)
                        for r in run_preflight(provider, api_url, cloud_calls=cloud_calls))
        except Exception as exc:  # a bug or an SDK error the adapter did not classify: one row, not a failed call
            log.exception("preflight_crashed", provider=name)
            rows.append(PreflightRow("preflight", name, "-", False, fix=f"{type(exc).__name__}: {exc}"))
    return rows


def row_dict(row: PreflightRow) -> dict[str, Any]:
    return {"check": row.check, "provider": row.provider, "region": row.region, "ok": row.ok,
            "result": row.result, "detail": row.detail, "fix": row.fix}


def log_failures(rows: Sequence[PreflightRow], phase: str) -> int:
    """One warning per failing row (with its fix); returns how many failed."""
    failed = [r for r in rows if not r.ok]
    for row in failed:
        log.warning("preflight_failed", phase=phase, check=row.check, provider=row.provider, region=row.region,
                    fix=row.fix)
    log.info("preflight_done", phase=phase, rows=len(rows), failed=len(failed))
    return len(failed)


def preflight_at_start(rt: Runtime) -> threading.Thread | None:
    """At `serve` start: the configuration checks now, the cloud checks in a background thread (logged only).

    The public_url row is not repeated at start: `serve` has already refused a public_url no instance could use,
    unless the admin opted in to one."""
    if not rt.settings.preflight_at_start:
        return None
    cheap = [r for r in preflight_rows(rt, cloud_calls=False) if r.check != "public_url"]
    log_failures(cheap, "config")
    if not rt.providers:
        return None

    def full() -> None:
        try:
            rows = [r for r in preflight_rows(rt) if r.check != "public_url"]
        except Exception:
            log.exception("preflight_crashed")
            return
        log_failures(rows, "cloud")

    thread = threading.Thread(target=full, name="spotwise-preflight", daemon=True)
    thread.start()
    return thread
