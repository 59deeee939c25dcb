"""Which sinks get an alert: rules by kind (glob), minimum severity and team. Pure."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from orchestrator.alerts.outbox import SEVERITIES


class Route(BaseModel):
    """Send alerts matching every given condition to `sinks`. Empty lists match everything."""

    model_config = ConfigDict(extra="forbid")
    sinks: list[str] = Field(min_length=1, description="names under alert_sinks that get the matching alerts")
    kinds: list[str] = Field(default_factory=list, description='kind globs: `"cost.*"`, `"shutdown.idle"`, `"job.*"`; '
                             "empty: every kind")
    min_severity: str = Field(default="info", description="`info`, `warning` or `critical`: this "
                              "severity and the more severe ones")
    teams: list[str] = Field(default_factory=list, description="only alerts of these teams (an alert "
                             "with no team matches only a route without `teams`); empty: every team's")


_ROUTES: TypeAdapter[list[Route]] = TypeAdapter(list[Route])


def parse_routes(raw: list[dict[str, Any]]) -> list[Route]:
    return _ROUTES.validate_python(raw)


def route(kind: str, severity: str, team: str | None, routes: list[Route], sinks: list[str]) -> list[str]:
    """Sink names for one alert; with no routes configured, every sink gets every alert."""
    if not routes:
        return sorted(sinks)
    rank = SEVERITIES.index(severity) if severity in SEVERITIES else 0
    chosen: set[str] = set()
    for r in routes:
        if r.kinds and not any(fnmatchcase(kind, k) for k in r.kinds):
            continue
        if rank < SEVERITIES.index(r.min_severity if r.min_severity in SEVERITIES else "info"):
            continue
        if r.teams and team not in r.teams:
            continue
        chosen.update(s for s in r.sinks if s in sinks)
    return sorted(chosen)
