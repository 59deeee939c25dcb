"""Start-up checks of the alert settings: a sink or route that cannot work is found before the daemon runs.

Why here and not on delivery: a misspelt sink type stopped the daemon after it had logged `daemon_starting`,
with pydantic's multi-line error; a route naming a sink that does not exist dropped its alerts without a word
(routing keeps only known sinks); a webhook URL without a scheme failed on every retry until the alert gave up.
Pure: no I/O, one line per problem.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from orchestrator.alerts.outbox import SEVERITIES
from orchestrator.alerts.routing import parse_routes
from orchestrator.alerts.sinks import SlackSink, WebhookSink, parse_sinks


def _lines(prefix: str, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append(f"{prefix}.{loc}: {err['msg'].removeprefix('Value error, ')}" if loc else f"{prefix}: {err['msg']}")
    return out


def alert_config_problems(sinks_raw: dict[str, Any], routes_raw: list[Any]) -> list[str]:
    """Every problem in `alert_sinks` and `alert_routes`, one line each (empty: they can all work)."""
    problems: list[str] = []
    sinks = {}
    for name, raw in sinks_raw.items():  # one at a time: every bad sink is named, not only the first
        try:
            sinks.update(parse_sinks({name: raw}))
        except ValidationError as exc:
            problems += _lines("alert_sinks", exc)
    for name, sink in sinks.items():
        if isinstance(sink, WebhookSink | SlackSink):
            url = urlparse(sink.url.get_secret_value())
            if url.scheme not in ("http", "https") or not url.netloc:
                problems.append(f"alert_sinks.{name}.url: must be an http:// or https:// URL with a host")
    try:
        routes = parse_routes(routes_raw)
    except ValidationError as exc:
        return [*problems, *_lines("alert_routes", exc)]
    known = set(sinks_raw)
    for i, r in enumerate(routes):
        unknown = [s for s in r.sinks if s not in known]
        if unknown:
            problems.append(f"alert_routes.{i}.sinks: no sink named {', '.join(map(repr, unknown))}; configured "
                            f"sinks: {', '.join(sorted(known)) or '(none)'}")
        if r.min_severity not in SEVERITIES:
            problems.append(f"alert_routes.{i}.min_severity: {r.min_severity!r} is not one of "
                            f"{', '.join(SEVERITIES)}")
    return problems
