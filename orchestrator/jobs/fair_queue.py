"""The fair claim order: which runnable jobs a placement pass looks at, and in which order it places them.

Why not "priority, then FIFO, first N": a team token may queue any number of jobs at any priority its cap
allows, and jobs that cannot be placed were claimed again every few seconds, so a few dozen unplaceable jobs at
the head kept every job behind them (of every team) from ever being looked at. Three rules instead:

1. **Turns, not places.** A job's place in its team's line is when it may next be looked at:
   `coalesce(not_before, submitted_at)`. A job that was looked at and could not be placed gets a `not_before`
   in the future (`next_look_delay`, growing while it keeps missing), so once it is eligible again it queues
   behind the jobs that were waiting meanwhile instead of holding the head.
2. **Round-robin across teams for the claim.** Each team's ready jobs are ranked in the team's own order
   (priority, then turn, then FIFO); the claim takes every team's first job, then every team's second, ...
   up to the batch size. One team's queue depth or priority numbers never keep another team's head job out
   of a pass.
3. **Priority, then fair share, for placement within the pass.** The claimed batch is placed by priority;
   within a priority, round-robin across teams, the team with fewer jobs provisioning or running first, so
   when capacity is scarce the team using less gets the next slot. A team's priority range is bounded by the
   policy file's `max_priority` caps (orchestrator/spending/priority_caps.py).

Works with `FOR UPDATE SKIP LOCKED` on PostgreSQL: the ranking is a derived table and only `jobs` rows are
locked (`FOR UPDATE OF jobs`), so a second replica skips the rows the first holds and takes the next turns.
SQLite has one writer at a time and ignores the lock clause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from orchestrator.jobs.models import JobState
from orchestrator.store.tables import Job

PLACED = (JobState.PROVISIONING.value, JobState.RUNNING.value)
LOOK_DELAY_BASE_S = 5.0  # the first delay after a miss: what a job waiting for capacity always got
LOOK_DELAY_MAX_S = 60.0  # a job that waited an hour is still looked at every minute
LOOK_DELAY_FRACTION = 0.25  # of the time already waited: geometric growth (x1.25 a look) past the base
CANDIDATES = 5  # turns ranked per claimed job: what replicas claiming at once share before one comes back short


def next_look_delay(launch_backoff_s: float, waited_s: float) -> float:
    """Seconds until a job that could not be placed is looked at again.

    Why it grows with the time already waited: a job nothing can place (no offer at its price, a GPU no cloud
    has) was looked at every 5 s forever, a cost every pass paid for each such job. A quarter of the time
    waited (at least the base, at most a minute) makes a long-waiting job cheap and keeps a recent one prompt;
    the launch-failure backoff (a streak of failed cloud launches) still applies when it is longer.
    """
    return max(launch_backoff_s, min(LOOK_DELAY_MAX_S, max(LOOK_DELAY_BASE_S, waited_s * LOOK_DELAY_FRACTION)))


def turn() -> ColumnElement[datetime]:
    """When a job may next be looked at: its backoff end, else its submission."""
    return func.coalesce(Job.not_before, Job.submitted_at)


def ready(states: Sequence[str], now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Runnable and past its backoff."""
    return Job.state.in_(list(states)), or_(Job.not_before.is_(None), Job.not_before <= now)


@dataclass(frozen=True)
class Claimed:
    job: Job
    team_rank: int  # 1 = the team's first job in this pass's ranking


def claim_fair(session: Session, states: Sequence[str], limit: int, now: datetime) -> list[Job]:
    """Up to `limit` ready jobs, row-locked (skipping rows other workers hold), in placement order.

    The ranking runs on narrow rows (seq, team, priority, turn) and keeps the first `limit * CANDIDATES` turns;
    only those are joined to the full rows, sorted and locked. Sorting every ready row with its spec spilled
    to disk at 10,000 queued jobs (50 ms on PostgreSQL); the candidates leave room for concurrent replicas,
    each skipping the rows the others hold."""
    rank = func.row_number().over(partition_by=Job.team, order_by=(Job.priority.desc(), turn(), Job.seq))
    ranked = select(Job.seq.label("seq"), Job.priority.label("priority"), turn().label("turn"),
                    rank.label("team_rank")).where(*ready(states, now)).subquery()
    top = (select(ranked.c.seq, ranked.c.team_rank)
           .order_by(ranked.c.team_rank, ranked.c.priority.desc(), ranked.c.turn, ranked.c.seq)
           .limit(limit * CANDIDATES).subquery())
    stmt = (
        select(Job, top.c.team_rank)
        .join(top, top.c.seq == Job.seq)
        .where(*ready(states, now))  # re-checked on the locked row (PostgreSQL re-evaluates it after a wait)
        .order_by(top.c.team_rank, Job.priority.desc(), turn(), Job.seq)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Job)
    )
    claimed = [Claimed(job, rank) for job, rank in session.execute(stmt).all()]
    return placement_order(claimed, placed_by_team(session, {c.job.team for c in claimed}))


def placed_by_team(session: Session, teams: set[str]) -> Counter[str]:
    """How many jobs each team has provisioning or running now: the fair-share weight within a priority."""
    if not teams:
        return Counter()
    rows = session.execute(select(Job.team, func.count()).where(Job.state.in_(PLACED), Job.team.in_(sorted(teams)))
                           .group_by(Job.team))
    return Counter({team: int(n) for team, n in rows})


def placement_order(claimed: Sequence[Claimed], placed: Counter[str]) -> list[Job]:
    """Priority first; within a priority, round-robin across teams (the team with fewer jobs placed first,
    then the longer-waiting head); within a team, its own order. Pure, so the order is testable alone."""
    rounds: Counter[tuple[str, int]] = Counter()
    keyed = []
    for c in sorted(claimed, key=lambda c: c.team_rank):  # the team's own order
        job = c.job
        rounds[(job.team, job.priority)] += 1
        look = job.not_before or job.submitted_at
        keyed.append(((-job.priority, rounds[(job.team, job.priority)], placed[job.team], look, job.seq), job))
    keyed.sort(key=lambda pair: pair[0])
    return [job for _, job in keyed]
