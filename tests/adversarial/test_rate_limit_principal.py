"""The API rate limit belongs to the caller, not to the spelling of its Authorization header: a team cannot
reset its bucket with `Bearer  TOKEN` or `bEaReR TOKEN`, and its flood leaves the other team's bucket alone."""

from __future__ import annotations

from pathlib import Path

from tests.adversarial.tenants import two_teams


def test_header_spellings_share_one_bucket(tmp_path: Path) -> None:
    env = {"SPOTWISE_API_RATE_LIMIT_PER_SECOND": "0.2", "SPOTWISE_API_RATE_LIMIT_BURST": "3"}
    with two_teams(tmp_path / "home", env) as t:
        token = t.tokens["b"]
        spellings = [f"Bearer {token}", f"Bearer  {token}", f"bEaReR {token}", f"BEARER {token}", f"bearer\t{token}"]
        statuses = [t.call("b", "GET", "/v1/jobs", headers={"Authorization": s}).status_code
                    for s in spellings * 2]
        assert statuses.count(200) <= 3, statuses  # one bucket of 3, whatever the spelling
        assert set(statuses) <= {200, 429, 401}, statuses
        assert t.call("a", "GET", "/v1/jobs").status_code == 200  # team a keeps its own bucket
