"""The dashboard's amount, size and time-axis formatting (static/core.js, chart.js), run in node: money reads as
the CLI's `policies.money.usd` does (never "$0.00" for a non-zero amount), a 5 KB checkpoint is not "0.0 MB",
and the spend chart's time ticks are round times with distinct labels (five ticks over ten minutes all read
"14:03" before).

Why node and not a browser: these are pure functions; the dashboard tests cover the pages around them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from policies.money import usd

STATIC = Path(__file__).resolve().parents[2] / "orchestrator" / "ui" / "static"
CORE = STATIC / "core.js"
AMOUNTS = [0, 0.0035, 0.0005, 0.00025, 0.5, 0.05, 0.0123, 0.099999, 1, 1234.567, -0.0035, 1e-10, 0.000054]
SIZES = [0, 999, 5000, 5123, 1_500_000, 12_300_000, 2_000_000_000]


def _run(expression: str, file: Path = CORE, name: str = "Spotwise") -> list[Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    stubs = "global.window = {}; global.document = {addEventListener() {}, getElementById() { return null; }};"
    load = (f"const S = (new Function(require('fs').readFileSync({json.dumps(str(file))}, 'utf8')"
            f" + '; return {name};'))();")
    script = f"{stubs}{load}console.log(JSON.stringify({expression}));"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_dashboard_money_matches_the_cli() -> None:
    assert _run(f"{json.dumps(AMOUNTS)}.map(v => S.money(v))") == [usd(a) for a in AMOUNTS]


def test_checkpoint_sizes_use_the_unit_that_reads() -> None:
    assert _run(f"{json.dumps(SIZES)}.map(v => S.bytes(v))") == [
        "0 B", "999 B", "5.0 KB", "5.1 KB", "1.5 MB", "12 MB", "2.0 GB"]


def test_time_ticks_are_round_and_distinct() -> None:
    start = 1796652207000  # 2026-12-07 14:03:27 UTC: not a round time
    for span_s, step_s in [(60, 10), (600, 120), (3600, 600), (86400, 21600), (7 * 86400, 172800)]:
        step, times, labels = _run(f"(() => {{ const t = S.ticks({start}, {start + span_s * 1000}); "
                                   f"return [t.step, t.times, t.times.map(m => S.fmtTime(m, t.step))]; }})()",
                                   STATIC / "chart.js", "SpotwiseChart")
        assert step == step_s * 1000 and 3 <= len(times) <= 7, (span_s, step, times)
        assert all(t % step == 0 and start <= t <= start + span_s * 1000 for t in times)
        assert len(set(labels)) == len(labels), labels
