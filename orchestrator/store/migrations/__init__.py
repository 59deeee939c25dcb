"""Alembic's environment (`env.py`) and the revisions (`versions/`) that create exactly store/tables.py's schema,
run at start by store/db.py's `migrate` under a lock. Only alembic loads them (as scripts, not imports)."""
