"""POST /v1/agent/bootstrap: an instance trades its once-only bootstrap token for the attempt's agent token.

Why: the start-up script sits in cloud metadata (AWS user data, GCE `startup-script`, Azure custom data), which
anyone with DescribeInstanceAttribute / instances.get and every process on the VM can read. So it carries only a
bootstrap token, and this exchange hands out the agent token:

- once: the first exchange inserts the `bootstrap_claims` row (committed before the answer is sent, so a daemon
  killed with SIGKILL after answering still refuses a second exchange); a later exchange with another claim is
  refused with 409 and raises an `agent.bootstrap_refused` alert: someone else holds the token. The same claim
  (the agent's own retry after a lost answer) gets the same token back;
- by that instance: the request carries an identity proof from the cloud's metadata server, checked against the
  instance the daemon recorded at launch (orchestrator/identity);
- while it matters: only while the attempt is active and within `bootstrap_token_ttl_seconds` of the launch.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.alerts import emit
from orchestrator.api.agent import _insert_ignore
from orchestrator.api.deps import RuntimeDep, SessionDep
from orchestrator.api.errors import error_body
from orchestrator.identity import Expected, IdentityRefused, SignatureUnavailable, has_identity, verify
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE, AttemptState
from orchestrator.logs import get_logger
from orchestrator.runtime import Runtime
from orchestrator.store.tables import Attempt, BootstrapClaim, Instance
from orchestrator.store.types import utcnow
from orchestrator.tokens import TokenRejected, agent_token, authenticate_bootstrap_token, hash_token
from providers.plugin import identity_module

log = get_logger(__name__)
router = APIRouter(prefix="/v1/agent", tags=["agent"])



class Exchange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bootstrap_token: str = Field(min_length=1, max_length=300)
    claim: str = Field(min_length=32, max_length=128)  # the agent's random nonce; kept 0600 on the instance
    identity: dict[str, Any] = Field(default_factory=dict)  # the cloud's proof (orchestrator/agent/identity.py)


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    """An answer that still commits the request's transaction (the refusal's alert and event are kept)."""
    return JSONResponse(status_code=status, content=error_body(code, message))


def _expected(rt: Runtime, attempt: Attempt, row: Instance) -> Expected:
    """The record the proof must name. The cloud's identity module says which configuration key names the account
    (`ACCOUNT_KEY`) and whether its proofs name the zone (`PROOF_NAMES_ZONE`)."""
    module = identity_module(attempt.provider)
    config = rt.settings.providers.get(attempt.provider) or {}
    account_key = str(getattr(module, "ACCOUNT_KEY", "") or "")
    account = str(config.get(account_key, "") or "") if account_key else ""
    zone = row.zone if getattr(module, "PROOF_NAMES_ZONE", False) else ""
    return Expected(provider=attempt.provider, instance_id=row.id, uid=row.uid or "", region=row.region,
                    zone=zone, account=account)


def _suspicious(session: Session, attempt: Attempt, node: int, what: str) -> None:
    """A refused exchange that a legitimate agent would not make: an event on the job, an alert, a log line."""
    T.record_event(session, attempt.job_id, what, kind="security", attempt_id=attempt.id)
    emit(session, "agent.bootstrap_refused", f"attempt {attempt.id} node {node}: {what}", severity="critical",
         body=what, payload={"attempt_id": attempt.id, "job_id": attempt.job_id, "node": node})
    log.warning("bootstrap_refused", attempt=attempt.id, node=node, reason=what, alert=True)


@router.post("/bootstrap")
def exchange(body: Exchange, session: SessionDep, rt: RuntimeDep) -> Any:
    try:
        principal = authenticate_bootstrap_token(rt.agent_secret, body.bootstrap_token)
    except TokenRejected as exc:
        return _refuse(401, "unauthenticated", str(exc))
    attempt_id, node = str(principal.attempt_id), principal.node
    rank = node or 0
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or attempt.state not in ACTIVE:
        state = attempt.state if attempt is not None else "unknown"
        return _refuse(401, "unauthenticated", f"attempt {attempt_id} is {state}; its bootstrap token is void")
    row = session.scalar(select(Instance).where(Instance.attempt_id == attempt_id, Instance.node == rank,
                                                Instance.ended_at.is_(None)))
    if row is None:
        if attempt.state == AttemptState.LAUNCHING:  # the agent came up before the launch call returned
            return JSONResponse(status_code=503, headers={"Retry-After": "1"}, content=error_body(
                "not_ready", f"attempt {attempt_id} is still launching; its instance is not recorded yet"))
        return _refuse(401, "unauthenticated", f"attempt {attempt_id} has no live instance for node {rank}")
    ttl = rt.settings.bootstrap_token_ttl_seconds
    claimed = session.get(BootstrapClaim, (attempt_id, rank))
    claim_hash = hash_token(body.claim)
    if claimed is None and utcnow() - row.launched_at > timedelta(seconds=ttl):
        return _refuse(401, "unauthenticated", f"the bootstrap token of attempt {attempt_id} expired {ttl:g} s "
                       "after its instance was launched (bootstrap_token_ttl_seconds)")
    if claimed is None:
        try:
            proved = verify(body.identity, _expected(rt, attempt, row), audience=rt.settings.effective_public_url,
                            claim=body.claim, require_signature=rt.settings.bootstrap_require_signature,
                            verifiers=rt.identity_verifiers) if has_identity(attempt.provider) else None
        except SignatureUnavailable as exc:  # the cloud's keys are unreachable: not the agent's fault, retry
            log.warning("bootstrap_signature_unavailable", attempt=attempt_id, node=rank, error=str(exc))
            return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content=error_body(
                "not_ready", f"the identity proof's signature cannot be checked right now: {exc}"))
        except IdentityRefused as exc:
            _suspicious(session, attempt, rank, f"bootstrap exchange refused: {exc}")
            return _refuse(403, "forbidden", str(exc))
        session.execute(_insert_ignore(session)(BootstrapClaim).values(
            attempt_id=attempt_id, node=rank, token_hash=hash_token(body.bootstrap_token), claim_hash=claim_hash,
            instance_id=row.id, claimed_at=utcnow(), refused=0).on_conflict_do_nothing(
            index_elements=["attempt_id", "node"]))
        claimed = session.get(BootstrapClaim, (attempt_id, rank), populate_existing=True)
        if claimed is not None and claimed.claim_hash == claim_hash:
            how = "not verified" if proved is None else (
                f"{', '.join(proved.fields) or 'no fields'} matched; signature "
                f"{'verified' if proved.signature_verified else 'not verified: ' + proved.note}")
            T.record_event(session, attempt.job_id, f"agent on {row.id} exchanged its bootstrap token "
                           f"(identity: {how})", kind="agent_bootstrap", attempt_id=attempt_id)
            return _answer(rt, attempt_id, node, repeat=False)
    assert claimed is not None
    if claimed.claim_hash == claim_hash:  # the same agent, retrying after a lost answer
        return _answer(rt, attempt_id, node, repeat=True)
    claimed.refused += 1
    _suspicious(session, attempt, rank, "a second exchange of a bootstrap token that was already exchanged "
                f"(at {claimed.claimed_at.isoformat()}); refused: a possible token theft")
    return _refuse(409, "conflict", f"the bootstrap token of attempt {attempt_id} was already exchanged; "
                   "each is good for one exchange only")


def _answer(rt: Runtime, attempt_id: str, node: int | None, *, repeat: bool) -> dict[str, Any]:
    return {"agent_token": agent_token(rt.agent_secret, attempt_id, node), "attempt_id": attempt_id, "node": node,
            "repeat": repeat}
