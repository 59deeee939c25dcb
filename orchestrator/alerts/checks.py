"""Start-up checks of the alert settings: a sink or route that cannot work is found before the daemon runs.

Why here and not on delivery: a misspelt sink type stopped the daemon after it had logged `daemon_starting`,
with pydantic's multi-line error; a route naming a sink that does not exist dropped its alerts without a word
(routing keeps only known sinks); a webhook URL without a scheme failed on every retry until the alert gave up;
`http://` to another host sent alerts and their signatures in clear; an Apprise sink without the library, or
with a URL Apprise cannot parse, would fail every send. A misspelt field names the valid ones, as spec and
policy errors do. No I/O, one line per problem.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from orchestrator.alerts.outbox import SEVERITIES
from orchestrator.alerts.routing import Route, parse_routes
from orchestrator.alerts.sinks import SINK_MODELS, parse_sinks


def _valid_fields(model: type[Any]) -> str:
    names = list(model.model_fields)
    return ", ".join(sorted(names, key=lambda n: n != "type"))  # the type first, then as declared


def _sink_line(name: str, err: Any) -> str:
    """One sink error without pydantic's union tag in the path: `alert_sinks.hook.urll: unknown field ...`."""
    loc = [str(p) for p in err["loc"]]
    kind = loc[1] if len(loc) > 1 and loc[1] in SINK_MODELS else None
    field = loc[2:] if kind else loc[1:]
    where = ".".join(["alert_sinks", name, *field])
    if err["type"] == "union_tag_invalid":
        return (f"alert_sinks.{name}.type: {err['input'].get('type')!r} is not a sink type; valid types are: "
                f"{', '.join(SINK_MODELS)}")
    if err["type"] == "union_tag_not_found":
        return f"alert_sinks.{name}.type: this field is required; valid types are: {', '.join(SINK_MODELS)}"
    if err["type"] == "extra_forbidden" and kind:
        return f"{where}: unknown field {field[-1]!r}; valid fields for a {kind} sink are: " \
               f"{_valid_fields(SINK_MODELS[kind])}"
    if err["type"] == "missing":
        return f"{where}: this field is required"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def _route_line(err: Any) -> str:
    where = ".".join(["alert_routes", *(str(p) for p in err["loc"])])
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown field {str(err['loc'][-1])!r}; valid fields are: {', '.join(Route.model_fields)}"
    if err["type"] == "missing":
        return f"{where}: this field is required"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def alert_config_problems(sinks_raw: dict[str, Any], routes_raw: list[Any]) -> list[str]:
    """Every problem in `alert_sinks` and `alert_routes`, one line each (empty: they can all work)."""
    problems: list[str] = []
    sinks = {}
    for name, raw in sinks_raw.items():  # one at a time: every bad sink is named, not only the first
        try:
            sinks.update(parse_sinks({name: raw}))
        except ValidationError as exc:
            problems += [_sink_line(name, err) for err in exc.errors()]
    for name, sink in sinks.items():
        problems += sink.problems(name)  # each sink type's own: https rule, a library installed, its URLs parse
    try:
        routes = parse_routes(routes_raw)
    except ValidationError as exc:
        return [*problems, *(_route_line(err) for err in exc.errors())]
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
