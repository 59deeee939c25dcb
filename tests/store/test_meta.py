"""Installation facts are created once when replicas start together (a real race on the real databases)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from orchestrator.store import meta
from orchestrator.store.db import make_engine, make_session_factory, migrate
from orchestrator.store.tables import Meta


def test_the_first_writer_wins_and_the_second_replica_does_not_crash(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    try:
        first = sessions()
        assert meta.get_or_create(first, "cluster_id", "sw-first") == "sw-first"  # inserted, not yet committed
        seen: list[str] = []
        errors: list[BaseException] = []

        def second_replica() -> None:
            try:
                with sessions() as s:
                    seen.append(meta.get_or_create(s, "cluster_id", "sw-second"))
                    s.commit()
            except BaseException as exc:  # the test fails on it below
                errors.append(exc)

        racer = threading.Thread(target=second_replica)
        racer.start()
        racer.join(0.5)  # PostgreSQL: blocked on the uncommitted key; SQLite: waits for the write lock
        first.commit()
        first.close()
        racer.join(30)
        assert not errors and seen == ["sw-first"]
        with sessions() as s:
            assert list(s.scalars(select(Meta.value).where(Meta.key == "cluster_id"))) == ["sw-first"]
    finally:
        engine.dispose()
