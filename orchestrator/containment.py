"""Per-item error containment for the daemon's loops: one bad row fails alone, and the pass goes on.

Why: every loop pass used to run its items (jobs, attempts, instances, stops, alerts) in one try block, so one
row that raised (a stored spec that no longer validates, a bug its data hit) rolled back the whole pass, on every
pass: one team's malformed job stopped placement for every team until an admin cancelled it. Here each item runs
on its own (in a SAVEPOINT when it shares the pass's transaction), and what it raises is sorted:

- the database being unreachable or busy, or a race with another writer (`transient`: connection loss, a lock or
  statement timeout, a deadlock, a serialization failure, a duplicate key between replicas) says nothing about the
  item: it is re-raised and the whole pass fails and is retried, exactly as before (orchestrator/dberrors.py logs
  it); only a DataError (a value the database refuses) is the item's own;
- a transition refused because another writer moved the job first: the item is skipped; the next pass re-reads;
- anything else is the item's own fault. `job_errors` moves the job to FAILED with the error as its reason (an
  event its owner reads in `jobs show`); `item_errors` logs it with its traceback and skips the item (it is
  retried next pass, the rest of the pass is not held up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from orchestrator.dberrors import is_db_unavailable
from orchestrator.jobs import transitions as T
from orchestrator.jobs.models import JobState
from orchestrator.logs import get_logger
from orchestrator.store.tables import Job

log = get_logger(__name__)

MAX_REASON = 1500  # a job's reason is read in a terminal; the log line keeps the whole traceback


def transient(exc: BaseException) -> bool:
    """True when `exc` is about the database (down, busy, locked) or a race with another writer (a duplicate key
    when two replicas record the same instance), not about the item itself. Of the database's errors only a
    DataError (a value it refuses) is the item's own."""
    if is_db_unavailable(exc) or isinstance(exc, DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and not isinstance(exc, DataError)


def describe(exc: BaseException) -> str:
    """The error as its owner can read it: a validation error's fields and fixes, else its type and message."""
    if isinstance(exc, ValidationError):
        from orchestrator.jobs.specfile import describe_validation_error  # specfile imports the loops' models

        text = "its spec does not validate: " + "; ".join(describe_validation_error(exc))
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON else text[:MAX_REASON] + "..."


@contextmanager
def item_errors(loop: str, item: str, session: Session | None = None,
                passing: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Run one item of a loop pass; an error of the item is logged and swallowed (see the module doc).
    With `session`, the item runs in a SAVEPOINT, so its failed statements leave the pass's transaction usable.
    `passing`: errors the caller handles itself (a provider's ProviderError, say), re-raised untouched."""
    try:
        with session.begin_nested() if session is not None else nullcontext():
            yield
    except T.TransitionRefused as exc:
        log.info(f"{loop}_item_skipped", item=item, reason=str(exc))
    except Exception as exc:
        if transient(exc) or isinstance(exc, passing):
            raise
        log.exception(f"{loop}_item_failed", item=item, error=describe(exc))


@contextmanager
def job_errors(session: Session, job_id: str, what: str) -> Iterator[None]:
    """Run one job's step of a pass in a SAVEPOINT; if the job's own data (or a bug it hits) makes it raise, the
    step is rolled back and the job is FAILED with "`what` failed: <error>" as its reason."""
    try:
        with session.begin_nested():
            yield
    except T.TransitionRefused as exc:
        log.info("job_step_skipped", job_id=job_id, step=what, reason=str(exc))
    except Exception as exc:
        if transient(exc):
            raise
        fail_job(session, job_id, f"{what} failed: {describe(exc)}", exc)


def fail_job(session: Session, job_id: str, reason: str, exc: BaseException | None = None) -> None:
    """Move the job to FAILED with `reason` (in its own SAVEPOINT). An active attempt is left to reconcile, which
    stops the instance of a job that became final."""
    (log.exception if exc is not None and not isinstance(exc, ValidationError) else log.warning)(
        "job_failed_contained", job_id=job_id, reason=reason)
    try:
        with session.begin_nested():
            job = session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
            if job is not None and not JobState(job.state).is_final:
                T.mark_failed(session, job, reason)
    except T.TransitionRefused as refused:  # moved by another writer meanwhile: the next pass looks again
        log.info("job_fail_skipped", job_id=job_id, reason=str(refused))
    except Exception as inner:
        if transient(inner):
            raise
        log.exception("job_fail_failed", job_id=job_id, error=describe(inner))
