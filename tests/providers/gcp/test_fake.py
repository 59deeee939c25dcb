"""The fake itself is strict where the adapter's tests rely on it (else they could pass vacuously)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.providers.gcp.fake_gce import FakeGCE, FakeGCEServer


def _status(url: str, method: str = "GET", body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("filter_text", ["labels.a ~ b", "foo = bar", "labels.a = b OR labels.b = c"])
def test_unsupported_filters_are_rejected(gce_server: FakeGCEServer, gce: FakeGCE, filter_text: str) -> None:
    from urllib.parse import quote

    status, _ = _status(f"{gce_server.url}/compute/v1/projects/{gce.project}/aggregated/instances"
                        f"?filter={quote(filter_text)}")
    assert status == 400


def test_invalid_insert_is_rejected(gce_server: FakeGCEServer, gce: FakeGCE) -> None:
    base = f"{gce_server.url}/compute/v1/projects/{gce.project}/zones/us-central1-a/instances"
    status, payload = _status(f"{base}?requestId=not-a-uuid", "POST", {"name": "ok-name"})
    assert status == 400
    status, payload = _status(base, "POST", {"name": "Bad_Name", "machineType": "zones/x/machineTypes/g2-standard-4"})
    assert status == 400 and "resource.name" in json.dumps(payload)
    assert not gce.instances


def test_standalone_server_prints_its_url() -> None:
    with subprocess.Popen([sys.executable, "-m", "tests.providers.gcp.fake_gce"], stdout=subprocess.PIPE,
                          text=True) as proc:
        try:
            url = (proc.stdout.readline() if proc.stdout else "").strip()
            assert url.startswith("http://127.0.0.1:")
            status, payload = _status(f"{url}/compute/v1/projects/spotwise-test/zones")
            assert status == 200 and payload["items"]
        finally:
            proc.terminate()
