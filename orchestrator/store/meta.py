"""Installation facts in the `meta` table, created once even when several replicas start together.

Two `spotwise serve` processes starting at the same moment on an empty PostgreSQL database both found no
`cluster_id` row and both inserted one: the second crashed on the primary key. An insert that does nothing
on conflict, followed by a read, gives every replica the value the first one wrote.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from orchestrator.store.tables import Meta


def get_or_create(session: Session, key: str, value: str) -> str:
    """The stored value of `key`; `value` is stored first when there is none (first writer wins)."""
    current = session.scalar(select(Meta.value).where(Meta.key == key))
    if current is not None:
        return current
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(Meta).values(key=key, value=value).on_conflict_do_nothing(index_elements=["key"]))
    stored = session.scalar(select(Meta.value).where(Meta.key == key))
    assert stored is not None  # just inserted, or inserted by the replica that won
    return stored
