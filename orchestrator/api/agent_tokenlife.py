"""How long an agent token is honoured: while its attempt is active, then for a short grace only.

Why: agent tokens are derived from the attempt id and never expire on their own, so a token left on an ended
instance's disk (or in a process list) kept fetching the job's spec with its *current* secrets and appending
logs and events for ever. The grace (`agent_token_grace_seconds`, 120 s) is for what legitimately follows the
end: the last log flush, the exit report, a gang node's late report. Secrets are never returned for an attempt
that is not active (api/agent.py answers its spec with `active: false` and nothing else).
"""

from __future__ import annotations

from fastapi import Request

from orchestrator.api.deps import PrincipalDep, RuntimeDep, SessionDep
from orchestrator.api.errors import ApiError
from orchestrator.jobs.attempts import ACTIVE
from orchestrator.store.tables import Attempt
from orchestrator.store.types import utcnow


def live_agent_token(request: Request, principal: PrincipalDep, session: SessionDep, rt: RuntimeDep) -> None:
    """Router dependency of every /v1/agent route: 401 once the token's attempt ended more than the grace ago.
    Other callers pass through (each route's own check answers them)."""
    attempt_id = request.path_params.get("attempt_id")
    if principal.role != "agent" or principal.attempt_id != attempt_id:
        return
    attempt = session.get(Attempt, attempt_id)  # the route's own lookup then comes from the identity map
    if attempt is None or attempt.state in ACTIVE:
        return
    grace = rt.settings.agent_token_grace_seconds
    if attempt.ended_at is None or (utcnow() - attempt.ended_at).total_seconds() > grace:
        raise ApiError(401, "unauthenticated", f"attempt {attempt_id} is {attempt.state}; its agent token is "
                       f"honoured for {grace:g} s after the attempt ends, and that has passed")
