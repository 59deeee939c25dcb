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


@pytest.fixture(scope="session")
def prebuilt_agent_wheel() -> str:
    """This tree's agent wheel, built once per source fingerprint and cached across runs (tests/e2e/wheel.py)."""
    from tests.e2e.wheel import cached_agent_wheel

    return cached_agent_wheel()


@pytest.fixture(autouse=True)
def _serve_the_prebuilt_agent_wheel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPOTWISE_AGENT_WHEEL for every test, as a deployment installed from a wheel sets it.

    Why: any runtime that launches on a provider other than `local` (the fake clouds of the placement, spending and
    gang tests, the plugin cloud) pins the agent wheel, and with none configured builds its own with `pip wheel`
    into its home -- a fresh tmp_path each test, so the same wheel was built again per test (~1 s of CPU, 2-5 s
    on this loaded 2-core box, dozens of times a run). Settings given `agent_wheel=` explicitly still win, and
    daemons started by a test inherit the variable. `@pytest.mark.own_agent_wheel` leaves it unset, for the test
    of the daemon building and serving its own wheel."""
    if "own_agent_wheel" in request.keywords:
        monkeypatch.delenv("SPOTWISE_AGENT_WHEEL", raising=False)
        return
    wheel = request.getfixturevalue("prebuilt_agent_wheel")
    if wheel:
        monkeypatch.setenv("SPOTWISE_AGENT_WHEEL", wheel)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the long tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long run: use `make test-all` (pytest --run-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
