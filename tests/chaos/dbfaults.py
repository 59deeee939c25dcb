"""Database faults of a chaos run: restarts of the run's own PostgreSQL, and what the API answers meanwhile.

Why probe the API while the server is down: the daemon must ride a restart out, and for a client that means
a 503 in the API's JSON error shape with Retry-After (a transient condition to retry), never a 500 or a
traceback. Every probe is recorded and becomes an invariant of the run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.chaos.pgcluster import MODES, ThrowawayPostgres

PROBED = ("/v1/jobs", "/healthz")  # one authenticated read (token lookup + query) and the health check


@dataclass
class Probe:
    path: str
    status: int
    code: str  # the JSON error code, or what was wrong with the body


@dataclass
class PostgresFaults:
    pg: ThrowawayPostgres
    rng: random.Random
    base_url: str
    token: Callable[[], str]
    probes: list[Probe] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.modes)

    def restart(self) -> tuple[str, float, float]:
        """One restart: the first is `immediate` (crash-like, WAL replay), the second `fast`, then either;
        half of them stay down 1-4 s, probed, the others are a plain `pg_ctl restart`. Returns (label, when
        the server went down, when it accepted connections again), epoch seconds."""
        mode = "immediate" if not self.modes else "fast" if "fast" not in self.modes else self.rng.choice(MODES)
        down_s = self.rng.uniform(1.0, 4.0) if self.rng.random() < 0.5 else 0.0
        started = time.time()
        if down_s:
            self.pg.stop(mode)
            until = time.monotonic() + down_s
            self._probe()
            time.sleep(max(0.0, until - time.monotonic()))
            self.pg.start()
        else:
            self.pg.restart(mode)
        self.modes.append(mode)
        return f"postgres restart ({mode}{', down' if down_s else ''})", started, time.time()

    def _probe(self) -> None:
        for path in PROBED:
            try:
                r = httpx.get(self.base_url + path, headers={"Authorization": f"Bearer {self.token()}"}, timeout=10)
            except httpx.HTTPError as exc:
                self.probes.append(Probe(path, 0, type(exc).__name__))
                continue
            try:
                code = str(r.json()["error"]["code"])
            except (ValueError, KeyError, TypeError):
                code = f"not a JSON error: {r.text[:80]!r}"
            self.probes.append(Probe(path, r.status_code, code))

    def api_check(self) -> tuple[bool, str]:
        """(ok, detail) for 'the API answered 503 JSON while the database was down'."""
        bad = [p for p in self.probes if p.status != 503 or p.code.startswith("not a JSON")]
        seen = sorted({f"{p.path} {p.status} {p.code}" for p in self.probes})
        return not bad, f"{len(self.probes)} probes while down: {seen}; wrong {[vars(p) for p in bad][:3]}"
