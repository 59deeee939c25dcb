"""Odd input to the real `spotwise` CLI against a real daemon: a one-line message and exit 2 (usage) or 1,
never "unexpected error: <PythonError>" or a traceback (the CLI robustness audit).

One daemon serves the module (starting one costs seconds); each test reads only what it made.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Daemon, running_daemon, write

POLICY = "budgets:\n  - name: robust\n    scope: team:robust\n    period: monthly\n    limit_usd: 100\n"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("cli-robustness") / "home") as d:
        yield d


def clean(result: subprocess.CompletedProcess[str], code: int, expected: str) -> None:
    """Exit `code`, `expected` in stderr, and no Python error text."""
    assert result.returncode == code, (result.returncode, result.stderr, result.stdout)
    assert expected in result.stderr, result.stderr
    assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(("job_id", "code", "expected"), [
    ("", 2, "the job id is empty"),
    ("?x=1", 1, "job ?x=1 not found"),
    ("..", 1, "job .. not found"),
    ("a b#c", 1, "job a b#c not found"),
    ("../tokens", 2, "job id '../tokens' is not valid: it cannot contain '/'"),
    ("j-../../x", 2, "cannot contain '/'"),
])
def test_job_ids_are_one_url_segment(daemon: Daemon, job_id: str, code: int, expected: str) -> None:
    for command in ("show", "logs", "cancel"):
        clean(daemon.cli("jobs", command, job_id), code, expected)


def test_other_ids_are_url_encoded_too(daemon: Daemon) -> None:
    clean(daemon.cli("tokens", "revoke", "?all=1"), 1, "token ?all=1 not found")
    clean(daemon.cli("chaos", "preempt", ""), 2, "the instance id is empty")
    clean(daemon.cli("secrets", "delete", "A/B"), 2, "cannot contain '/'")


def test_a_non_ascii_token_is_refused_clearly(daemon: Daemon) -> None:
    clean(daemon.cli("jobs", "list", token="tökén"), 1, "SPOTWISE_TOKEN is not a valid API token")


def test_a_binary_policy_file_is_refused_clearly(daemon: Daemon, tmp_path: Path) -> None:
    binary = tmp_path / "policy.yaml"
    binary.write_bytes(b"\xc6\x00\xff\xfe binary" * 10)
    for command in ("diff", "apply"):
        clean(daemon.cli("policy", command, str(binary)), 1, "not UTF-8 text")


def test_a_binary_secret_value_is_refused_clearly(daemon: Daemon) -> None:
    result = _cli_with_stdin(daemon, b"\xc6\x81\xff\x00raw key", "secrets", "set", "BIN")
    clean(result, 2, "not UTF-8 text")
    assert "BIN" not in daemon.cli("secrets", "list", check=True).stdout
    ok = _cli_with_stdin(daemon, "héllo\n".encode(), "secrets", "set", "TEXT")
    assert ok.returncode == 0, ok.stderr


def test_a_bad_output_mode_is_a_usage_error_before_anything_is_sent(daemon: Daemon, tmp_path: Path) -> None:
    spec = write(tmp_path / "ok.yaml", "name: not-submitted\nrun: echo hi\n")
    clean(daemon.cli("submit", str(spec), "-o", "bogus"), 2, "unknown --output 'bogus'")
    names = {j["name"] for j in daemon.api("GET", "/v1/jobs")["items"]}
    assert "not-submitted" not in names
    tokens = len(daemon.api("GET", "/v1/tokens")["items"])
    clean(daemon.cli("tokens", "create", "--team", "t", "-o", "bogus"), 2, "unknown --output 'bogus'")
    assert len(daemon.api("GET", "/v1/tokens")["items"]) == tokens  # not made and then lost unprinted
    for args in (["jobs", "list"], ["costs"], ["policy", "history"], ["secrets", "list"], ["alerts", "list"]):
        clean(daemon.cli(*args, "-o", "xml"), 2, "unknown --output 'xml'")


def test_policy_history_and_diff_print_json(daemon: Daemon, tmp_path: Path) -> None:
    assert "no policy applied yet" in daemon.cli("policy", "history", check=True).stdout  # was: nothing at all
    good = write(tmp_path / "p.yaml", POLICY)
    daemon.cli("policy", "apply", str(good), check=True)
    history = json.loads(daemon.cli("policy", "history", "-o", "json", check=True).stdout)
    assert [row["version"] for row in history["items"]][:1] == [1] and "sha256" in history["items"][0]
    changed = write(tmp_path / "q.yaml", POLICY.replace("limit_usd: 100", "limit_usd: 7"))
    diff = json.loads(daemon.cli("policy", "diff", str(changed), "--output", "json", check=True).stdout)
    assert "+    limit_usd: 7" in diff["diff"]
    same = json.loads(daemon.cli("policy", "diff", str(good), "-o", "json", check=True).stdout)
    assert same == {"diff": "", "effects": []}


def test_providers_setup_names_the_known_providers(daemon: Daemon) -> None:
    clean(daemon.cli("providers", "setup", "nope"), 1, "unknown provider nope; known: ")
    result = daemon.cli("providers", "setup", "nope")
    assert "aws" in result.stderr and "local" in result.stderr
    clean(daemon.cli("providers", "setup", "aws"), 1, "provider aws is not configured")  # known, not configured


def test_catalog_import_normalises_the_cloud(daemon: Daemon, tmp_path: Path) -> None:
    """' GCP ' is gcp: the daemon lowercases but keeps spaces, which made a cloud no placement ever matches."""
    vms = write(tmp_path / "vms.csv", "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,"
                                      "Region,AvailabilityZone,Price,SpotPrice\n"
                                      "n1-standard-8,8.0,30.0,,,,asia-east1,asia-east1-a,0.44,0.08242\n")
    imported = daemon.cli("catalog", "import", str(vms), "--cloud", " GCP ", check=True)
    assert re.match(r"imported [1-9]\d* gcp offers from vms.csv", imported.stdout), imported.stdout
    clouds = {i["cloud"] for i in json.loads(daemon.cli("catalog", "status", "-o", "json", check=True).stdout)}
    assert "gcp" in clouds and all(c == c.strip().lower() for c in clouds), clouds
    clean(daemon.cli("catalog", "import", str(vms), "--cloud", " "), 2, "--cloud is empty")


def test_costs_csv_prints_plain_decimals(daemon: Daemon, tmp_path: Path) -> None:
    spec = write(tmp_path / "short.yaml", "name: short\nrun: sleep 1\n")  # a CPU second: under $0.0001
    daemon.cli("submit", str(spec), "--wait", check=True)
    rows: list[dict[str, str]] = []
    for _ in range(40):  # the ledger catches up within a reconcile pass or two
        rows = list(csv.DictReader(io.StringIO(daemon.cli("costs", "--by", "job", "-o", "csv", check=True).stdout)))
        if rows:
            break
        time.sleep(0.5)
    assert rows
    for row in rows:
        for column in ("cost_usd", "instance_hours"):
            assert re.fullmatch(r"\d+\.\d{6}", row[column]), row


def _cli_with_stdin(daemon: Daemon, data: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    """Daemon.cli with bytes on stdin (it takes no stdin): `secrets set` reads the value from there."""
    env = {**os.environ, "SPOTWISE_URL": daemon.url, "SPOTWISE_TOKEN": daemon.token,
           "SPOTWISE_HOME": str(daemon.home / "client-home"), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "orchestrator", *args], env=env, input=data,
                            capture_output=True, timeout=120)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(errors="replace"),
                                       result.stderr.decode(errors="replace"))


def test_piped_output_is_not_wrapped_at_80_columns(daemon: Daemon, tmp_path: Path) -> None:
    """Not a terminal and no COLUMNS (a pipe, a CI log): rich wrapped at 80 columns, so `jobs list | grep` saw half
    rows and a long error came out on three lines. Each row and each error is now one line."""
    name = "piped-" + "n" * 110
    job = daemon.api("POST", "/v1/jobs", json={"name": name, "team": "piped", "run": "true"})
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update({"SPOTWISE_URL": daemon.url, "SPOTWISE_TOKEN": daemon.token,
                "SPOTWISE_HOME": str(tmp_path / "client-home")})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestrator", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    listed = run("jobs", "list", "--team", "piped")
    assert listed.returncode == 0, listed.stderr
    assert any(job["id"] in line and name in line for line in listed.stdout.splitlines()), listed.stdout
    missing = "j-" + "0" * 100
    shown = run("jobs", "show", missing)
    assert shown.returncode == 1
    assert any(line.startswith("error:") and missing in line for line in shown.stderr.splitlines()), shown.stderr


def test_empty_alert_list_says_so(daemon: Daemon) -> None:
    """An empty table (header and borders only) read like a rendering fault."""
    result = daemon.cli("alerts", "list", "--kind", "no.such.kind", check=True)
    assert result.stdout.strip() == "no alerts of kind 'no.such.kind'"
    listed = daemon.cli("secrets", "list", check=True).stdout.splitlines()  # other tests' secrets may be here
    assert listed[0].split() == ["NAME", "SCOPE", "UPDATED"] or listed == [
        "no secrets ('spotwise secrets set NAME')"], listed


def test_ctrl_c_on_submit_wait_leaves_the_job_running_and_says_how_to_follow(daemon: Daemon, tmp_path: Path) -> None:
    """Ctrl-C ended `submit --wait` with exit 130 and not a word: users could not tell whether the job had stopped."""
    spec = write(tmp_path / "sleeper.yaml", "name: ctrl-c\nteam: ctrl-c\nrun: sleep 120\n")
    env = {**os.environ, "SPOTWISE_URL": daemon.url, "SPOTWISE_TOKEN": daemon.token,
           "SPOTWISE_HOME": str(tmp_path / "client-home"), "COLUMNS": "400"}
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "submit", str(spec), "--wait"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not daemon.api("GET", "/v1/jobs", params={"team": "ctrl-c"})["items"]:
            assert time.monotonic() < deadline and proc.poll() is None, "the job was never submitted"
            time.sleep(0.2)
        time.sleep(1.0)  # into the follow loop
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    job = daemon.api("GET", "/v1/jobs", params={"team": "ctrl-c"})["items"][0]
    assert proc.returncode == 130, (out, err)
    assert f"stopped following {job['id']}; the job keeps running" in err and "Traceback" not in err, err
    assert job["state"] not in ("CANCELLED", "FAILED", "SUCCEEDED")
    daemon.api("POST", f"/v1/jobs/{job['id']}/cancel")
