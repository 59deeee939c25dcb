"""The sign-in code store on a real, migrated SQLite file: one winner when two browsers race with one code,
nothing but the hash stored, old codes purged (a replay of a purged code is still refused), and only an
API token may ask for a code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from orchestrator.store.tables import UiSigninCode
from orchestrator.tokens import Principal, create_api_token
from orchestrator.ui.signin_codes import CodeRefused, issue_code, redeem_code


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'spotwise.db'}")
    migrate(engine)
    yield make_session_factory(engine)
    engine.dispose()


def team_principal(sessions: sessionmaker[Session]) -> Principal:
    with transaction(sessions) as s:
        row, _ = create_api_token(s, role="team", team="vision")
        return Principal(role="team", team="vision", token_id=row.id)


def test_two_racing_redemptions_of_one_code_have_one_winner(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        code, _ = issue_code(s, team_principal(sessions))
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def redeem() -> None:
        start.wait()
        try:
            with transaction(sessions) as s:
                token, row = redeem_code(s, code)
                outcomes.append(f"won {row.team}")
        except CodeRefused as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["used", "used", "used", "won vision"]
    with transaction(sessions) as s:
        [stored] = s.scalars(select(UiSigninCode)).all()
        assert code not in (stored.code_hash, stored.token_id) and stored.used_at is not None


def test_old_codes_are_purged_and_stay_refused(sessions: sessionmaker[Session]) -> None:
    principal = team_principal(sessions)
    with transaction(sessions) as s:
        old, _ = issue_code(s, principal)
        s.flush()
        for row in s.scalars(select(UiSigninCode)):
            row.expires_at -= timedelta(days=2)
    with transaction(sessions) as s:
        issue_code(s, principal)
    with transaction(sessions) as s:
        assert len(s.scalars(select(UiSigninCode)).all()) == 1
        with pytest.raises(CodeRefused) as refused:
            redeem_code(s, old)
        assert refused.value.reason == "unknown"


def test_only_an_api_token_may_ask_for_a_code(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s, pytest.raises(ValueError, match="only an admin or team API token"):
        issue_code(s, Principal(role="agent", attempt_id="att-1"))
