"""/v1/costs: the ledger grouped by team, project, job, attempt, cloud, region or day.
A team token sees only its own team's costs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api.deps import SessionDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.spending import energy as energy_report
from orchestrator.spending import ledger
from orchestrator.store.tables import Job

router = APIRouter(prefix="/v1/costs", tags=["costs"])


@router.get("")
def costs(principal: UserDep, session: SessionDep, by: str = "team", since: datetime | None = None,
          until: datetime | None = None, energy: bool = False) -> dict[str, Any]:
    if by not in ledger.GROUPS:
        raise ApiError(422, "invalid_request", f"unknown grouping {by!r}; choose one of: {', '.join(ledger.GROUPS)}")
    for field, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(422, "invalid_request", f"give {field} with a timezone, e.g. 2026-01-01T00:00Z")
    if since is not None and until is not None and since >= until:  # an empty range answered a silent 0
        raise ApiError(422, "invalid_request", f"since ({since.isoformat()}) must be before until "
                       f"({until.isoformat()})")
    rows = ledger.report(session, by, since=since, until=until, team=None if principal.is_admin else principal.team)
    if by == "job":
        _name_jobs(session, rows)
    result = {"by": by, "items": rows, "total_usd": round(sum(float(str(r["cost_usd"])) for r in rows), 6)}
    if energy:  # energy and carbon next to cost, same grouping (days whole for since/until)
        if by not in energy_report.GROUPS:
            raise ApiError(422, "invalid_request",
                           f"energy=true groups by {', '.join(energy_report.GROUPS)}, not by={by}")
        result.update(energy_report.merge_costs(by, rows, energy_report.report(
            session, by, since=since, until=until, team=None if principal.is_admin else principal.team)))
    return result


def _name_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Beside each job id its name and team: an id alone sends the reader to `jobs show` for every row."""
    ids = [r["job"] for r in rows]
    known = {i: (n, t) for i, n, t in session.execute(select(Job.id, Job.name, Job.team).where(Job.id.in_(ids)))}
    for row in rows:
        row["name"], row["team"] = known.get(row["job"], ("-", "-"))
