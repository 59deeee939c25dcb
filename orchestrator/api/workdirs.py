"""/v1/workdirs: the daemon's own content-addressed workdir store, used when no bucket is configured.

Uploads are checked against their digest before they are kept, so a job's `workdir_ref.digest` names exactly
one tree; a repeat upload of the same digest stores nothing again. An archive is visible and usable only to the
teams that uploaded it (and admins): workdir/owners.py. Agents download through /v1/agent (api/agent_bootstrap).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from orchestrator.api.deps import RuntimeDep, UserDep
from orchestrator.api.errors import ApiError
from orchestrator.jobs import secrets as jobsecrets
from orchestrator.jobs.models import JobSpec
from orchestrator.runtime import Runtime
from orchestrator.spending.policy_store import current_policy
from orchestrator.spending.priority_caps import over_cap
from orchestrator.workdir import owners, store

router = APIRouter(prefix="/v1/workdirs", tags=["workdirs"])
DIGEST = r"^[0-9a-f]{64}$"


def _digest_ok(digest: str) -> None:
    import re

    if not re.match(DIGEST, digest):
        raise ApiError(422, "invalid_digest", "a workdir digest is 64 lowercase hex characters (sha256)")


@router.get("/{digest}")
def has_workdir(digest: str, principal: UserDep, rt: RuntimeDep) -> dict[str, Any]:
    _digest_ok(digest)
    if not store.exists(store.daemon_backend(rt.settings.home), digest) or not owners.may_use(
            rt.settings.home, digest, None if principal.is_admin else principal.team):
        raise ApiError(404, "not_found", f"no workdir {digest}")  # another team's archive: as if absent
    return {"digest": digest, "exists": True}


@router.put("/{digest}")
async def put_workdir(digest: str, request: Request, principal: UserDep, rt: RuntimeDep) -> dict[str, Any]:
    """The body is the packed archive (BodySizeLimit allows up to `workdir_max_bytes` here)."""
    _digest_ok(digest)
    data = await request.body()
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ApiError(422, "digest_mismatch", f"the body's sha256 is {actual}, not {digest}")
    stored = store.upload(store.daemon_backend(rt.settings.home), digest, data)
    owners.record_owner(rt.settings.home, digest, None if principal.is_admin else principal.team)  # bytes: proof
    return {"digest": digest, "stored": stored, "bytes": len(data)}


def check_submission(session: Session, rt: Runtime, spec: JobSpec) -> None:
    """What a spec needs before it is queued: a packed workdir (in the daemon store, when that is its store) and
    every secret it names; each missing piece is a 422 that says how to provide it."""
    if spec.workdir and spec.workdir_ref is None:
        raise ApiError(422, "invalid_spec", "workdir: the directory must be packed and uploaded first; submit with "
                       "`spotwise submit` (it sets workdir_ref)")
    ref = spec.workdir_ref
    user = None if spec.submitted_by != "team" else spec.team  # an admin's submission may name any archive
    if ref is not None and ref.store == store.DAEMON and not (store.exists(
            store.daemon_backend(rt.settings.home), ref.digest) and owners.may_use(rt.settings.home, ref.digest, user)):
        raise ApiError(422, "invalid_spec", f"workdir_ref: workdir {ref.digest} was never uploaded to this daemon "
                       f"by team {spec.team!r}; upload it (`spotwise submit` does)")
    refused = over_cap(current_policy(session), spec)  # the policy's max_priority for the job's team/scope
    if refused:
        raise ApiError(422, "priority_above_cap", refused)
    absent = jobsecrets.missing(session, spec.team, spec.secrets)
    if absent:
        raise ApiError(422, "invalid_spec", f"secrets: not set for team {spec.team!r}: {', '.join(absent)}; create "
                       "them with `spotwise secrets set NAME` (value on stdin)")
