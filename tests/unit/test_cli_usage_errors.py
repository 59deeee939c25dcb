"""Usage mistakes get click's usage text and exit code 2 from the real `spotwise` process.

Why: typer 0.29 vendors click (`typer._click`), so its usage errors stopped matching
`click.ClickException` and came out as "unexpected error: NoSuchOption ..." with exit code 1.
No daemon is needed: click rejects these before any request is made.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    (["jobs", "list", "--bogus"], "No such option: --bogus"),
    (["submit"], "Missing argument"),
    (["offers", "--max-price", "abc"], "Invalid value for '--max-price'"),
    (["serve", "--port", "abc"], "Invalid value for '--port'"),
]


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_usage_error_prints_usage_and_exits_2(args: list[str], expected: str) -> None:
    result = subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True, text=True,
                            timeout=60, env={"PATH": "/usr/bin:/bin", "SPOTWISE_URL": "http://127.0.0.1:9"})
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Usage: " in result.stderr
    assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr
