"""Schemathesis against the OpenAPI schema of a real `spotwise serve`: no 5xx and no response that breaks
the schema. Why the CLI in a subprocess: it is how anyone would reproduce a finding (`st run ...`), and it
keeps schemathesis's own pytest plugin out of this suite's collection. The CI run sends a few hundred
requests; `--run-slow` sends 2,000+ (the figure in the README).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Daemon

pytestmark = pytest.mark.e2e
ST = Path(sys.executable).parent / "st"


def run_schemathesis(daemon: Daemon, max_examples: int, tmp_path: Path) -> tuple[int, str]:
    report = tmp_path / "st.ndjson"
    cmd = [str(ST), "run", f"{daemon.url}/openapi.json", "-H", f"Authorization: Bearer {daemon.token}",
           "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
           "content_type_conformance", "-n", str(max_examples), "--seed", "12", "--request-timeout", "30",
           "--phases", "examples,coverage,fuzzing", "--report", "ndjson", "--report-ndjson-path", str(report),
           "--exclude-path", "/v1/chaos/instances/{instance_id}/preempt"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env={**os.environ, "NO_COLOR": "1"})
    requests = 0
    if report.exists():
        for line in report.read_text().splitlines():
            event = json.loads(line)
            requests += sum(len(v) for v in _interactions(event))
    return requests, result.stdout + result.stderr


def _interactions(event: dict[str, Any]) -> list[list[Any]]:
    found: list[list[Any]] = []
    stack: list[object] = [event]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "interactions" in item and isinstance(item["interactions"], list):
                found.append(item["interactions"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@pytest.mark.parametrize("examples", [pytest.param(8, id="ci"),
                                      pytest.param(100, id="2000+", marks=pytest.mark.slow)])
def test_no_5xx_and_no_schema_violations(daemon: Daemon, tmp_path: Path, examples: int) -> None:
    requests, output = run_schemathesis(daemon, examples, tmp_path)
    print(output[-3000:])
    summary = re.findall(r"(\d+) (passed|failed|errored)", output)
    assert "failed" not in {kind for _, kind in summary} and "errored" not in {k for _, k in summary}, output[-6000:]
    assert re.search(r"No issues found|passed", output), output[-6000:]
