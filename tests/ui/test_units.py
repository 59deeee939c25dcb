"""The dashboard's amount and size formatting (static/core.js), run in node: money reads as the CLI's
`policies.money.usd` does (never "$0.00" for a non-zero amount), and a 5 KB checkpoint is not "0.0 MB".

Why node and not a browser: these are pure functions; the dashboard tests cover the pages around them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from policies.money import usd

CORE = Path(__file__).resolve().parents[2] / "orchestrator" / "ui" / "static" / "core.js"
AMOUNTS = [0, 0.0035, 0.0005, 0.00025, 0.5, 0.05, 0.0123, 0.099999, 1, 1234.567, -0.0035, 1e-10, 0.000054]
SIZES = [0, 999, 5000, 5123, 1_500_000, 12_300_000, 2_000_000_000]


def _run(expression: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    stubs = "global.window = {}; global.document = {addEventListener() {}, getElementById() { return null; }};"
    load = (f"const S = (new Function(require('fs').readFileSync({json.dumps(str(CORE))}, 'utf8')"
            " + '; return Spotwise;'))();")
    script = f"{stubs}{load}console.log(JSON.stringify({expression}));"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_dashboard_money_matches_the_cli() -> None:
    assert _run(f"{json.dumps(AMOUNTS)}.map(v => S.money(v))") == [usd(a) for a in AMOUNTS]


def test_checkpoint_sizes_use_the_unit_that_reads() -> None:
    assert _run(f"{json.dumps(SIZES)}.map(v => S.bytes(v))") == [
        "0 B", "999 B", "5.0 KB", "5.1 KB", "1.5 MB", "12 MB", "2.0 GB"]
