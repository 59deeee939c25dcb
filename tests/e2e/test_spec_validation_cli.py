"""`spotwise submit` with spec files the input audit found accepted or crashing: the real CLI as a subprocess says
what is wrong, naming the field, and exits 1 before it contacts any daemon (none listens here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = "name: x\nrun: echo\n"


def submit(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    env = {**os.environ, "SPOTWISE_URL": "http://127.0.0.1:9", "SPOTWISE_TOKEN": "sw_unused",
           "SPOTWISE_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "orchestrator", "submit", str(spec)], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("text", "expected"), [
    (BASE + "resources: {max_price_per_hour: .inf}\n", "resources.max_price_per_hour: must be a finite number"),
    (BASE + "resources: {cpus: .nan}\n", "resources.cpus"),
    (BASE + "deadline: .nan\n", "nan is not a duration"),
    ("[" * 100_000, "nested too deeply"),
    ("name: x\nrun: echo\nname: y\n", "not valid YAML at line 3, column 1: duplicate key 'name' (first at line 1)"),
    (BASE + "resources: {spot: true, spot: false}\n", "duplicate key 'spot'"),
    (BASE + "checkpoint: {dir: /c, store: 'ftp://x'}\n", "checkpoint.store: 'ftp://x' is not a supported store URL; "
                                                         "use one of s3://, gs://"),
    (BASE + "checkpoint: {dir: relative}\n", "checkpoint.dir: 'relative' must be an absolute path"),
    (BASE + "restart_exit_codes: [300]\n", "restart_exit_codes: 300 is not an exit code; exit codes are 0 to 255"),
    (BASE + "deadline: 2020-01-01T00:00:00Z\n", "deadline: 2020-01-01T00:00:00+00:00 is already past"),
    (BASE + "resources: {accelerators: 'A100:99999999999999999999'}\n", "ask for at most 16 per node"),
])
def test_bad_spec_files_get_a_clear_message(tmp_path: Path, text: str, expected: str) -> None:
    result = submit(tmp_path, text)
    assert result.returncode == 1, (result.stderr, result.stdout)
    assert "invalid job spec" in result.stderr and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    """A '<<' merge then an override is YAML's own feature: the spec passes and only the daemon is missing."""
    result = submit(tmp_path, BASE + "env:\n  <<: {A: '1', B: '2'}\n  A: '3'\n")
    assert result.returncode == 1 and "cannot reach the Spotwise daemon" in result.stderr, result.stderr


def test_a_json_spec_file_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    """JSON files take the same rule as YAML ones: json.loads kept the last 'spot' and dropped the first."""
    spec = tmp_path / "spec.json"
    spec.write_text('{"name": "x", "run": "echo", "resources": {"spot": true, "spot": false}}')
    env = {**os.environ, "SPOTWISE_URL": "http://127.0.0.1:9", "SPOTWISE_TOKEN": "sw_unused",
           "SPOTWISE_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "orchestrator", "submit", str(spec)], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, (result.stderr, result.stdout)
    assert "invalid job spec" in result.stderr and "duplicate key 'spot'; give each field once" in result.stderr, (
        result.stderr)
