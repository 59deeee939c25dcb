"""The schema, migrations and the meta table on SQLite and PostgreSQL."""
