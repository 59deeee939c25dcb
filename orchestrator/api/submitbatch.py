"""Group commit for job submissions: the submissions that arrive while one transaction is being written go into
the next one together.

Why: with one transaction per submission, each paid a threadpool hop (a thread wake-up, the largest
single cost in py-spy's GIL samples), a pool checkout, a BEGIN and a COMMIT (on PostgreSQL a round trip and a WAL
flush each; on SQLite the write lock) and, on PostgreSQL, the pool's pre-ping. Under load those are shared by
every submission in a batch; with one client a batch is one submission, as before. SQLite writes one batch at a
time (it has one writer anyway); PostgreSQL up to PG_WRITERS at once, so commits overlap their WAL flushes.

What does not change: each submission is checked on its own (a missing secret or workdir fails that submission
only, with its own 422); a submission's response is sent only after the transaction holding it has committed,
so a daemon killed after a 201 still has the job. If a batch's transaction fails, each of its
submissions is retried in a transaction of its own, so one bad row cannot fail the others.
Batches are at most `InFlightLimit`'s bound (api/inflight.py): no more submissions are in progress at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anyio.lowlevel import RunVar
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from orchestrator.api.perloop import per_loop
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import insert_submissions
from orchestrator.runtime import Runtime

Check = Callable[[Session, Runtime, JobSpec], None]
# Batches written at once on PostgreSQL: 8 gave 560-580/s at 8 clients and 980-1,020/s at 32 where 3 gave 510-535 and
# 690-860 (same runs); each writer holds one pooled connection (PG_POOL_SIZE + PG_MAX_OVERFLOW = 25 a replica).
PG_WRITERS = 8


@dataclass
class _Item:
    spec: JobSpec
    values: dict[str, Any]
    done: asyncio.Future[None]
    error: BaseException | None = field(default=None)


_batchers: RunVar[dict[int, SubmitBatcher]] = RunVar("spotwise_submit_batchers")


class SubmitBatcher:
    """Collects submissions in the event loop and writes them in one worker thread, one transaction a batch.

    `check` runs per submission inside the transaction before the rows are written (api/workdirs.py's
    check_submission: workdir uploaded, secrets set); an exception from it fails that submission only."""

    def __init__(self, rt: Runtime, check: Check, writers: int | None = None) -> None:
        self.rt = rt
        self.check = check
        # SQLite has one writer at a time anyway. PostgreSQL: a commit waits for its WAL flush (9-18 ms on the
        # development machine's disk) and commits that wait together share one flush, so a few batches are
        # written at once; with one at a time, throughput was one batch per flush.
        self.writers = writers or (1 if rt.engine.dialect.name == "sqlite" else PG_WRITERS)
        self._pending: list[_Item] = []
        self._running: set[asyncio.Task[None]] = set()

    @classmethod
    def for_loop(cls, rt: Runtime, check: Check) -> SubmitBatcher:
        """The batcher of the running event loop (tests run several loops over one app)."""
        return per_loop(_batchers, rt, lambda: cls(rt, check))

    async def submit(self, spec: JobSpec, values: dict[str, Any]) -> None:
        """Returns once the job and its event are committed; raises what its check or the store raised."""
        item = _Item(spec, values, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        if len(self._running) < self.writers:
            # A task of its own: a request cancelled while it waits (client gone) must not stop the batch.
            task = asyncio.get_running_loop().create_task(self._drain())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        await asyncio.shield(item.done)

    async def _drain(self) -> None:
        """Write what is pending, batch after batch, until nothing is (each batch takes all that waits)."""
        while self._pending:
            batch, self._pending = self._pending, []
            outcome: BaseException | None = asyncio.CancelledError("the submission was not stored")
            try:
                await run_in_threadpool(self._write, batch)
                outcome = None
            except Exception as exc:  # noqa: BLE001 - the batch's waiters get it; the next batch still runs
                outcome = exc
            finally:  # also on cancellation (the loop shutting down): no waiter is left hanging, none told 201
                for item in batch:
                    error = item.error or outcome
                    if not item.done.done():
                        if error is None:
                            item.done.set_result(None)
                        else:
                            item.done.set_exception(error)

    def _write(self, batch: list[_Item]) -> None:
        """In a worker thread: the whole batch in one transaction; if that fails, each item alone."""
        try:
            with self.rt.engine.begin() as conn:
                self._store(conn, batch)
            return
        except Exception:  # noqa: BLE001 - retried one by one below, where each gets its own error
            if len(batch) == 1:
                raise
        for item in batch:
            item.error = None
            try:
                with self.rt.engine.begin() as conn:
                    self._store(conn, [item])
            except Exception as exc:  # noqa: BLE001 - this submission's own error, for its own response
                item.error = exc

    def _store(self, conn: Connection, batch: list[_Item]) -> None:
        accepted = []
        for item in batch:
            try:
                self.check(Session(bind=conn), self.rt, item.spec)
            except Exception as exc:  # noqa: BLE001 - a 422 for this submission, not the batch
                item.error = exc
            else:
                accepted.append(item.values)
        insert_submissions(conn, accepted)
