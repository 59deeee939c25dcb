"""Real object-storage servers for the checkpoint tests, one per session: moto (S3), gcp-storage-emulator (GCS)
and azurite (Azure Blob, from npm into .tools/ by `make test`). Each fixture yields a factory of fresh
CheckpointStores under a unique prefix, so tests never see each other's versions."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.checkpoint import CheckpointStore

REPO = Path(__file__).resolve().parents[2]
AZURITE = REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_CONN = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
)
Factory = Callable[[], CheckpointStore]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g}s")


@pytest.fixture(scope="session")
def s3_store() -> Iterator[Factory]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    import boto3

    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="ckpt")
    yield lambda: CheckpointStore(f"s3://ckpt/{uuid.uuid4().hex}", endpoint_url=endpoint, region="us-east-1")
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def gcs_store() -> Iterator[Factory]:
    from gcp_storage_emulator.server import create_server

    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="ckpt")
    server.start()
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    yield lambda: CheckpointStore(f"gs://ckpt/{uuid.uuid4().hex}", anonymous=True, project="test")
    server.stop()
    if saved is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = saved


@pytest.fixture(scope="session")
def azure_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Factory]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed, so azurite (the Azure Blob emulator) cannot run")
    if not AZURITE.exists():
        pytest.skip(f"azurite is not installed at {AZURITE}; `make test` installs it (npm install azurite@3)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [str(AZURITE), "--inMemoryPersistence", "--blobHost", "127.0.0.1", "--blobPort", str(port),
         "--skipApiVersionCheck", "--silent"], cwd=workdir,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # cwd: azurite's debug log
    try:
        _wait_port(port)
        from azure.storage.blob import BlobServiceClient

        conn = AZURITE_CONN.format(port=port)
        BlobServiceClient.from_connection_string(conn).create_container("ckpt")
        yield lambda: CheckpointStore(f"az://ckpt/{uuid.uuid4().hex}", connection_string=conn)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["file", "s3", "gcs", "azure"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> CheckpointStore:
    """A fresh, empty checkpoint store on each backend."""
    if request.param == "file":
        return CheckpointStore(f"file://{tmp_path / 'store'}")
    factory: Factory = request.getfixturevalue(f"{request.param}_store")
    return factory()
