"""`spotwise serve` with a bad configuration, catalog imports and policy files that used to slip through: the
real daemon and CLI as subprocesses; one clear line and a non-zero exit, never a traceback (the daemon audit)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.cli.demo import free_port, start_daemon, wait_healthy
from tests.e2e.conftest import Daemon, running_daemon, write

GCP_HEADER = ("InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,"
              "Price,SpotPrice\n")
AWS_HEADER = ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,"
              "AvailabilityZone\n")
AZURE_HEADER = ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,"
                "Generation\n")


def serve(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`spotwise serve` that must refuse to start; one that starts anyway hits the timeout and fails the test."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SPOTWISE_")}
    full.update({"SPOTWISE_HOME": str(home), "SPOTWISE_PORT": str(free_port()), "COLUMNS": "400", **(env or {})})
    try:
        return subprocess.run([sys.executable, "-m", "orchestrator", "serve", *args], env=full, capture_output=True,
                              text=True, timeout=45)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the daemon started instead of refusing: {exc.stdout!r} {exc.stderr!r}") from None


def refused(result: subprocess.CompletedProcess[str], code: int, expected: str) -> None:
    out = result.stderr + result.stdout
    assert result.returncode == code, (result.returncode, out)
    assert expected in out, out
    assert "Traceback" not in out and "unexpected error" not in out and "sqlalche.me" not in out, out


def config_file(tmp_path: Path, text: str) -> dict[str, str]:
    return {"SPOTWISE_CONFIG": str(write(tmp_path / "config.yaml", text))}


@pytest.mark.parametrize(("args", "env", "code", "expected"), [
    (["--port", "99999"], {}, 2, "--port 99999: must be a TCP port from 1 to 65535, not 99999"),
    (["--port", "-1"], {}, 2, "--port -1: must be a TCP port from 1 to 65535, not -1"),
    ([], {"SPOTWISE_PORT": "70000"}, 1, "port: must be a TCP port from 1 to 65535"),
    ([], {"SPOTWISE_PROVIDERS": "{bad"}, 1, "SPOTWISE_PROVIDERS is not valid JSON"),
    ([], {"SPOTWISE_DATABASE_URL": "mysql://u:secret@db/x"}, 1,
     "unsupported database URL 'mysql://u:***@db/x' (driver 'mysql'); use sqlite:///PATH or postgresql+psycopg://"),
    ([], {"SPOTWISE_CONFIG": "/missing/spotwise.yaml"}, 1,
     "SPOTWISE_CONFIG names /missing/spotwise.yaml, which does not exist"),
    ([], {"SPOTWISE_PROVIDERS": '{"ibm": {}}'}, 1,
     "unknown provider(s) 'ibm' in the providers setting; known providers: aws"),
    ([], {"SPOTWISE_RECONCILE_INTERVAL_SECONDS": "-5"}, 1,
     "reconcile_interval_seconds: Input should be greater than 0"),
    ([], {"SPOTWISE_HEARTBEAT_TIMEOUT_SECONDS": "0"}, 1, "heartbeat_timeout_seconds: Input should be greater than 0"),
    ([], {"SPOTWISE_CHECKPOINT_STORE": "ftp://host/ckpt"}, 1,
     "checkpoint_store: 'ftp://host/ckpt' is not a supported store URL; use one of s3://"),
    ([], {"SPOTWISE_CHECKPOINT_STORE": "file://relative/ckpt"}, 1, "write a file store with an absolute path"),
    ([], {"SPOTWISE_LOG_LEVEL": "verbose"}, 1, "log_level must be one of: debug, info, warning, error, critical"),
    ([], {"SPOTWISE_CARBON_PRICES": '{"vision": -5}'}, 1, "carbon_prices.vision: must be a finite USD amount >= 0"),
], ids=["port-too-big", "port-negative", "env-port", "providers-json", "mysql", "missing-config", "unknown-provider",
        "negative-interval", "zero-timeout", "checkpoint-store-scheme", "checkpoint-store-relative", "log-level",
        "negative-carbon-price"])
def test_serve_refuses_a_bad_configuration(tmp_path: Path, args: list[str], env: dict[str, str], code: int,
                                           expected: str) -> None:
    refused(serve(tmp_path / "home", *args, env=env), code, expected)


def test_serve_refuses_a_bad_config_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused(serve(home, env=config_file(tmp_path, "port: 8470\nproviders: [unclosed\n")), 1,
            "config.yaml is not valid YAML at line 3, column 1")
    refused(serve(home, env=config_file(tmp_path, "providers:\n  ibm: {}\n")), 1, "known providers: aws, azure")
    refused(serve(home, env=config_file(tmp_path, "reconcile_interval_seconds: -5\n")), 1,
            "reconcile_interval_seconds: Input should be greater than 0")
    refused(serve(home, env=config_file(tmp_path, "- port\n")), 1, "must be a mapping of settings")
    refused(serve(home, env=config_file(tmp_path, "providers:\n  local: {}\nport: 8470\nproviders:\n  aws: {}\n")),
            1, "is not valid YAML at line 4, column 1: duplicate key 'providers' (first at line 1)")


@pytest.mark.parametrize("command", [["jobs", "list"], ["catalog", "status"], ["offers"], ["jobs", "show", "j-1"]])
def test_client_commands_print_a_bad_config_as_one_error_line(tmp_path: Path, command: list[str]) -> None:
    """Client commands read the same configuration: a missing or broken file was 'unexpected error: ConfigError'."""
    for env in ({"SPOTWISE_CONFIG": str(tmp_path / "missing.yaml")}, config_file(tmp_path, "port: [unclosed\n")):
        full = {k: v for k, v in os.environ.items() if not k.startswith("SPOTWISE_")}
        full.update({"SPOTWISE_HOME": str(tmp_path / "home"), "COLUMNS": "400", **env})
        result = subprocess.run([sys.executable, "-m", "orchestrator", *command], env=full, capture_output=True,
                                text=True, timeout=45)
        refused(result, 1, "error: ")
        assert "missing.yaml, which does not exist" in result.stderr + result.stdout or "not valid YAML" in (
            result.stderr + result.stdout)


def test_serve_refuses_alert_settings_that_cannot_work(tmp_path: Path) -> None:
    """A misspelt sink type was a multi-line pydantic error after `daemon_starting`; a route to a sink that does
    not exist dropped its alerts silently; a webhook URL without a scheme failed every retry until it gave up; a
    misspelt field did not name the valid ones; http:// to another host sent alerts in clear."""
    text = ("alert_sinks:\n"
            "  ops: {type: webhok, url: 'https://hooks.example.com/a'}\n"
            "  hook: {type: webhook, url: 'hooks.example.com/b', secret: s}\n"
            "  team: {type: slack, url: 'https://hooks.slack.com/services/T/B/x'}\n"
            "  typo: {type: webhook, urll: 'https://hooks.example.com/c', secret: s}\n"
            "  clear: {type: webhook, url: 'http://example.com/hook', secret: s}\n"
            "  lan: {type: webhook, url: 'http://example.com/hook', secret: s, allow_http: true}\n"
            "  local: {type: webhook, url: 'http://127.0.0.1:9/hook', secret: s}\n"
            "alert_routes:\n"
            "  - {kinds: ['cost.*'], sinks: [team, pager], min_severity: warn}\n")
    result = serve(tmp_path / "home", env=config_file(tmp_path, text))
    refused(result, 1, "cannot start the daemon: alert settings cannot work: alert_sinks.ops.type: 'webhok' is "
                       "not a sink type; valid types are: webhook, slack, smtp, log, apprise")
    out = result.stderr + result.stdout
    assert "alert_sinks.hook.url: must be an https:// URL with a host" in out
    assert ("alert_sinks.typo.urll: unknown field 'urll'; valid fields for a webhook sink are: type, "
            "rate_per_minute, timeout_seconds, url, secret, allow_http") in out
    assert "alert_sinks.typo.url: this field is required" in out
    assert ("alert_sinks.clear.url: http:// would send alerts in clear to example.com; use https://, or set "
            "allow_http: true on the sink") in out
    assert "alert_sinks.lan." not in out and "alert_sinks.local." not in out
    assert ("alert_routes.0.sinks: no sink named 'pager'; configured sinks: clear, hook, lan, local, ops, team, "
            "typo") in out
    assert "alert_routes.0.min_severity: 'warn' is not one of info, warning, critical" in out
    assert "daemon_starting" not in out and "pydantic.dev" not in out


CLOUD = json.dumps({"aws": {"regions": ["us-east-1"], "endpoint_url": "http://127.0.0.1:9"}})


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "public_url is http://127.0.0.1:"),
    ({"SPOTWISE_HOST": "0.0.0.0"}, "public_url is http://127.0.0.1:"),
    ({"SPOTWISE_PUBLIC_URL": "http://localhost:8470"}, "cannot reach this machine there"),
    ({"SPOTWISE_PUBLIC_URL": "http://spotwise.example.com:8470"}, "is plain http with cloud provider(s) aws"),
    ({"SPOTWISE_PUBLIC_URL": "http://127.0.0.1:8470", "SPOTWISE_ALLOW_INSECURE_PUBLIC_URL": "true"},
     "cannot reach this machine there"),
], ids=["default", "bound-to-all", "localhost", "plain-http", "insecure-opt-in-is-not-loopback"])
def test_serve_refuses_a_public_url_cloud_instances_cannot_use(tmp_path: Path, env: dict[str, str],
                                                                expected: str) -> None:
    """The default public_url (the bind address) was handed to agents on cloud VMs, which then called their own
    loopback and never reported; plain http to another host sends the agent token in the clear."""
    result = serve(tmp_path / "home", env={"SPOTWISE_PROVIDERS": CLOUD, **env})
    refused(result, 1, expected)
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: cannot start the daemon"), \
        result.stderr
    assert "daemon_starting" not in result.stdout + result.stderr  # refused before any work


@pytest.mark.parametrize("env", [{"SPOTWISE_PUBLIC_URL": "https://spotwise.example.com"},
                                 {"SPOTWISE_PUBLIC_URL": "http://10.1.2.3:8470",
                                  "SPOTWISE_ALLOW_INSECURE_PUBLIC_URL": "true"}], ids=["https", "http-opted-in"])
def test_serve_starts_with_a_reachable_public_url(tmp_path: Path, env: dict[str, str]) -> None:
    with running_daemon(tmp_path / "home", {"SPOTWISE_PROVIDERS": CLOUD, "AWS_ACCESS_KEY_ID": "testing",
                                            "AWS_SECRET_ACCESS_KEY": "testing", **env}) as d:
        assert httpx.get(d.url + "/healthz", timeout=10).status_code == 200


def test_serve_says_when_it_cannot_listen(tmp_path: Path) -> None:
    """uvicorn bound the port last, after migrations and loops, and said 'ERROR: [Errno 98] ...' with exit 3."""
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        result = serve(tmp_path / "home", "--port", str(port))
        refused(result, 1, f"cannot listen on 127.0.0.1:{port}: Address already in use; another process")
        assert "daemon_starting" not in result.stdout + result.stderr  # refused before any work
    finally:
        taken.close()
    refused(serve(tmp_path / "home", env={"SPOTWISE_HOST": "no-such-host.invalid"}), 1,
            "cannot listen on no-such-host.invalid:")


def test_serve_names_an_unreachable_postgresql(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://postgres:pw@127.0.0.1:{port}/spotwise"
    refused(serve(tmp_path / "home", env={"SPOTWISE_DATABASE_URL": url}), 1,
            f"cannot reach PostgreSQL at 127.0.0.1:{port}: Connection refused")


def test_serve_gives_up_on_a_postgresql_that_never_answers(tmp_path: Path) -> None:
    """A listener that never speaks (a hung server, or a firewall's black hole) held start-up for the OS TCP
    timeout, minutes with nothing said; now the default connect timeout (10 s) ends it with one line."""
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel completes the handshake; nobody answers
    port = silent.getsockname()[1]
    try:
        began = time.monotonic()
        refused(serve(tmp_path / "home", env={"SPOTWISE_DATABASE_URL": f"postgresql+psycopg://u@127.0.0.1:{port}/x"}),
                1, f"cannot reach PostgreSQL at 127.0.0.1:{port}: connection timeout expired")
        assert time.monotonic() - began < 40
    finally:
        silent.close()


def test_sigterm_stops_cleanly_and_logs_daemon_stopped(tmp_path: Path) -> None:
    """uvicorn re-raised SIGTERM after its shutdown: the process died before the loops stopped and the log said so."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    proc = start_daemon(home, port)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    events = [json.loads(line) for line in (home / "daemon.log").read_text().splitlines() if line.startswith("{")]
    stopped = [e for e in events if e.get("event") == "daemon_stopped"]
    assert stopped and stopped[-1]["signal"] == "SIGTERM", events[-3:]
    again = start_daemon(home, port)  # the SQLite lock was released: a restart is not refused
    try:
        wait_healthy(f"http://127.0.0.1:{port}", again)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=30)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("daemon-config") / "home") as d:
        yield d


def failed(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr, result.stdout)
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr


def test_a_short_gcp_row_is_named_not_a_server_error(daemon: Daemon, tmp_path: Path) -> None:
    short = write(tmp_path / "short.csv", GCP_HEADER + "x,y,z\n")
    failed(daemon.cli("catalog", "import", str(short), "--cloud", "gcp"),
           "no offers found in short.csv for cloud gcp: line 2: 3 field(s), expected at least 10")
    for header in (AWS_HEADER, AZURE_HEADER):
        cloud = "aws" if header is AWS_HEADER else "azure"
        failed(daemon.cli("catalog", "import", str(write(tmp_path / "s.csv", header + "x,y,z\n")), "--cloud", cloud),
               "line 2: 3 field(s), expected at least")


def test_when_every_row_fails_the_first_few_are_named(daemon: Daemon, tmp_path: Path) -> None:
    rows = "".join(f"m{i},,,1,2,,free,n/a,westus,V1\n" for i in range(8))
    bad = write(tmp_path / "az.csv", AZURE_HEADER + rows)
    result = daemon.cli("catalog", "import", str(bad), "--cloud", "azure")
    failed(result, "line 2: no valid Price or SpotPrice ('free', 'n/a')")
    assert "line 6:" in result.stderr and "line 7:" not in result.stderr and "and 3 more row(s)" in result.stderr
    inf = write(tmp_path / "inf.csv", AWS_HEADER + "p5,H100,inf,1,2,,1.0,0.5,us-east-1,use1-az1\n"
                                                   "p6,H100,1e300,1,2,,inf,nan,us-east-1,use1-az1\n")
    failed(daemon.cli("catalog", "import", str(inf), "--cloud", "aws"), "AcceleratorCount 'inf' is not a whole number")


def test_unknown_clouds_are_refused_with_the_valid_list(daemon: Daemon, tmp_path: Path) -> None:
    vms = write(tmp_path / "vms.csv", GCP_HEADER + "n1-standard-8,8.0,30.0,,,,asia-east1,asia-east1-a,0.44,0.08\n")
    for cloud in ("ibm", "local", "IBM"):
        failed(daemon.cli("catalog", "import", str(vms), "--cloud", cloud),
               f"unknown cloud {cloud.lower()!r}; catalogs can be imported for: aws, gcp, azure")
    imported = {i["cloud"] for i in daemon.api("GET", "/v1/catalog")["items"] if i["source"] == "catalog"}
    assert not imported & {"ibm", "local"}, imported  # (the local provider's live prices are its own source)
    imported = daemon.cli("catalog", "import", str(vms), "--cloud", "GcP", check=True)
    assert "imported 2 gcp offers" in imported.stdout


def _apply(daemon: Daemon, text: str) -> httpx.Response:
    return httpx.post(daemon.url + "/v1/policies", json={"text": text}, timeout=30,
                      headers={"Authorization": f"Bearer {daemon.token}"})


def test_policy_files_that_silently_did_harm_are_refused(daemon: Daemon, tmp_path: Path) -> None:
    budget = "budgets:\n  - name: b\n    period: monthly\n    limit_usd: 100\n"
    assert _apply(daemon, budget).status_code == 200
    for text in ("", "# nothing here\n", "---\n"):
        response = _apply(daemon, text)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith("empty policy file"), response.text
    failed(daemon.cli("policy", "apply", str(write(tmp_path / "empty.yaml", ""))), "apply an explicit `budgets: []`")
    infinite = _apply(daemon, budget.replace("100", ".inf"))
    assert infinite.status_code == 422 and "line 4: budgets.0.limit_usd: must be a finite number" in infinite.text
    unknown = _apply(daemon, budget + "    bogus: 1\n")
    assert unknown.status_code == 422
    assert ("unknown field 'bogus'; valid fields are: name, scope, period, timezone, limit_usd, thresholds, "
            "forecast_alert") in unknown.json()["error"]["message"]
    twice = _apply(daemon, budget + "    limit_usd: 100000\n")  # which limit? YAML kept the last, silently
    assert twice.status_code == 422
    assert "line 5: not valid YAML: duplicate key 'limit_usd' (first at line 4)" in twice.json()["error"]["message"]
    assert daemon.api("GET", "/v1/policies/current")["text"] == budget  # nothing refused was applied
    cleared = _apply(daemon, "budgets: []\ncaps: []\nidle: []\n")  # the explicit way still removes everything
    assert cleared.status_code == 200 and cleared.json()["changed"]
