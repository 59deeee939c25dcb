"""The agent API's multi-node (gang) rules: which node a token speaks for, the rendezvous, and how
one node's exit decides the whole attempt.

Why the node comes from the token and never from the request: a node-scoped token is an HMAC over
(attempt, node), so an agent can report only as the node it was launched as; a body that names another
node is refused rather than silently re-attributed. A one-node attempt keeps its original token (node 0).

Semantics: the attempt succeeds when EVERY node has exited 0; it fails as soon as ANY node exits non-zero,
and a preemption reported by ANY node ends it as preempted. Either way the other nodes' heartbeats are
answered "stop" and the reconcile loop's orphan sweep terminates their instances within a pass, because
their attempt is no longer active.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.api.errors import ApiError
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import ACTIVE, AttemptState, attempt_instances, node_instance
from orchestrator.store.tables import Attempt
from orchestrator.tokens import Principal

# Log chunk sequence numbers are per (attempt, stream); a gang's nodes share the attempt, so node n's
# chunks are stored at n * SEQ_SPAN + seq (the unique index stays (attempt, stream, seq), re-sends stay idempotent).
SEQ_SPAN = 30_000_000  # 64 nodes x 30M fits a 32-bit integer column


def token_node(principal: Principal, attempt: Attempt, claimed: int | None = None) -> int:
    """The node this caller may speak for; 403 when the token does not fit the attempt or the claim."""
    nodes = attempt.nodes or 1
    if principal.node is None:
        if nodes > 1:
            raise ApiError(403, "forbidden", f"attempt {attempt.id} is a {nodes}-node gang: each node reports "
                                             "with its own node-scoped agent token")
        node = 0
    else:
        node = principal.node
        if node >= nodes:
            raise ApiError(403, "forbidden", f"attempt {attempt.id} has {nodes} node(s); there is no node {node}")
    if claimed is not None and claimed != node:
        raise ApiError(403, "forbidden", f"this agent token may only report for node {node}, not node {claimed}")
    return node


def record_node_heartbeat(session: Session, attempt: Attempt, node: int, at: Any) -> None:
    row = node_instance(session, attempt.id, node)
    if row is not None:
        row.last_heartbeat_at = at


def rendezvous(session: Session, attempt: Attempt, node: int, ip: str) -> dict[str, Any]:
    """Record this node's address; answer the whole gang's addresses (rank order) once every node has one."""
    row = node_instance(session, attempt.id, node)
    if row is not None and row.node_ip != ip:
        row.node_ip = ip
        session.flush()
    ips = {r.node: r.node_ip for r in attempt_instances(session, attempt.id) if r.node_ip}
    missing = [n for n in range(attempt.nodes) if n not in ips]
    return {"active": attempt.state in ACTIVE, "node_rank": node, "num_nodes": attempt.nodes,
            "node_ips": None if missing else [ips[n] for n in range(attempt.nodes)], "waiting_for": missing}


def gang_outcome(session: Session, attempt: Attempt, node: int, exit_code: int, preempted: bool,
                 message: str) -> tuple[AttemptState, str] | None:
    """What node `node`'s exit means for the gang attempt; None: the others are still running (exit 0).

    The attempt row is locked first (PostgreSQL; SQLite serialises writers anyway) so two nodes exiting at the
    same moment cannot each miss the other's exit code and leave an all-zero gang unfinished.
    """
    session.execute(select(Attempt.id).where(Attempt.id == attempt.id).with_for_update())
    row = node_instance(session, attempt.id, node)
    first = row is not None and row.exit_code is None
    if row is not None and first:
        row.exit_code = exit_code
        session.flush()
    if preempted:
        if row is not None:
            row.preempted = True  # this node was reclaimed; the others were stopped by us
        return AttemptState.PREEMPTED, f"node {node} of {attempt.nodes}: agent saw a preemption notice; " \
                                       "the whole gang stopped"
    if exit_code != 0:
        return AttemptState.FAILED, f"node {node} of {attempt.nodes}: exit code {exit_code}" + (
            f": {message}" if message else "") + "; the other nodes are stopped"
    rows = attempt_instances(session, attempt.id)
    pending = [n for n in range(attempt.nodes) if not any(r.node == n and r.exit_code == 0 for r in rows)]
    if pending:
        if first and attempt.state in ACTIVE:
            T.record_event(session, attempt.job_id, f"node {node} exited 0; waiting for node(s) "
                           f"{', '.join(map(str, pending))}", kind="gang", attempt_id=attempt.id)
        return None
    return AttemptState.SUCCEEDED, f"all {attempt.nodes} nodes exited 0"
