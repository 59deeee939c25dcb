"""Persistence: SQLAlchemy tables, the engine, migrations. The only package that writes SQL.

`tables` is the schema, `db` the engine, sessions, transactions and migration at start, `meta` the installation
facts (created once even when replicas start together), `types` the column types that behave alike on both
databases. It imports no other folder of Spotwise, so every daemon folder may import it; the agent, the client,
`policies` and `providers` never do.
"""
