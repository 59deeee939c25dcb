"""Shared fixtures: databases (a real SQLite file and the real PostgreSQL) and daemon subprocesses."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "SPOTWISE_TEST_POSTGRES_URL"


def _postgres_base_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("SPOTWISE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"SPOTWISE_REQUIRE_POSTGRES=1 but {POSTGRES_ENV} is not set")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh database on the configured server for this test session, dropped at the end."""
    base = _postgres_base_url()
    assert base is not None
    name = "spotwise_test_" + secrets.token_hex(4)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    prefix, _, _ = base.rpartition("/")
    try:
        yield f"{prefix}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """The session database emptied for this test."""
    engine = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield postgres_server_url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """Each store test runs on a real SQLite file and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'spotwise.db'}"
    return str(request.getfixturevalue("postgres_url"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the long tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long run: use `make test-all` (pytest --run-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
