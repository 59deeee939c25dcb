"""Alembic environment: runs on the connection handed over by `orchestrator.store.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from orchestrator.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # `alembic` command line: a URL from -x url=...
        url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///spotwise.db")
        with create_engine(url).connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
