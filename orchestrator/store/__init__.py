"""Persistence: SQLAlchemy tables, the engine, migrations. The only package that writes SQL."""
