"""A cloud is one package: the core finds a cloud's provider, notice watcher, object store and catalog variant
through its plugin (providers/plugin.py), so an out-of-tree cloud installed by entry point (tests/plugins/toycloud)
works without a line changed elsewhere."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.catalog.vmscsv import catalog_clouds
from orchestrator.checkpoint.backends import CheckpointStorageError, open_backend
from orchestrator.jobs.models import store_url_problem
from providers import registry
from providers.plugin import broken_plugins, plugin, plugins, storage_schemes, watcher_for

PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def toycloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """tests/plugins on sys.path: its dist-info registers the toycloud entry point. Yields the toy:// store root."""
    monkeypatch.syspath_prepend(str(PLUGINS_DIR))
    monkeypatch.setenv("TOYCLOUD_STORE_ROOT", str(tmp_path / "store"))
    plugins.cache_clear()
    yield tmp_path / "store"
    plugins.cache_clear()
    for name in [m for m in sys.modules if m == "toycloud" or m.startswith("toycloud.")]:
        del sys.modules[name]


def test_builtins_are_found_in_the_fallback_table_in_order() -> None:
    assert [p.name for p in plugins()][:5] == ["aws", "gcp", "azure", "local", "faulty"]
    assert plugin("toycloud") is None
    assert list(storage_schemes()) == ["s3", "gs", "gcs", "az", "abfs", "abfss"]
    assert catalog_clouds() == ("aws", "gcp", "azure")
    assert type(watcher_for("aws:http://127.0.0.1:9")).__name__ == "AwsImdsNotice"
    assert type(watcher_for("azure")).__name__ == "AzureScheduledEvents"
    assert watcher_for("local") is None and watcher_for("nosuchcloud:x") is None


def test_an_entry_point_cloud_brings_its_watcher_store_and_provider(toycloud: Path, tmp_path: Path) -> None:
    assert "toycloud" in registry.available_names()
    assert registry.load_class("toycloud").__name__ == "ToyProvider"
    assert store_url_problem("toy://bucket/ckpt") is None
    assert "toy://" in (store_url_problem("ftp://x/y") or "")

    notice_file = tmp_path / "notice"
    watcher = watcher_for(f"toycloud:{notice_file}")
    assert watcher is not None
    notice_file.write_text("preempt 30\n")
    notice = watcher.wait(threading.Event())
    assert notice is not None and notice.action == "preempt" and 25 < notice.seconds_left() <= 30

    store = open_backend("toy://bucket/ckpt")
    store.put_bytes("v1/latest", b"hello")
    assert store.get_bytes("v1/latest") == b"hello" and store.get_bytes("v2/latest") is None
    assert store.list("v1") == ["v1/latest"]
    assert (toycloud / "bucket" / "ckpt" / "v1" / "latest").read_bytes() == b"hello"
    store.delete(["v1/latest"])
    assert store.list("") == []


def test_a_store_error_from_a_plugin_is_a_clear_checkpoint_error(toycloud: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOYCLOUD_STORE_ROOT")
    with pytest.raises(CheckpointStorageError, match="toy:// needs TOYCLOUD_STORE_ROOT"):
        open_backend("toy://bucket/ckpt")
    with pytest.raises(CheckpointStorageError, match="names no bucket"):
        open_backend("toy:///ckpt")


def test_reading_the_plugins_imports_no_cloud_sdk() -> None:
    """The agent reads the plugins on an instance: every watcher and store SDK is imported only when used."""
    code = ("import sys; from orchestrator.agent import notices; from orchestrator.checkpoint import backends; "
            "from providers.plugin import plugins, watcher_for; plugins(); watcher_for('aws'); watcher_for('gcp'); "
            "watcher_for('azure'); heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'boto3', 'botocore', 'google', 'azure'}); print(heavy); assert not heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_cloud_package_exports_its_provider_class_lazily() -> None:
    """`from providers.<cloud> import <Provider>` works, yet importing the package alone loads no provider module."""
    code = ("import sys, importlib; clouds = {'aws': ['AWSProvider'], 'gcp': ['GCPProvider'], "
            "'azure': ['AzureProvider', 'AzureConfig'], 'local': ['LocalProvider'], 'faulty': ['FaultyProvider']}\n"
            "for cloud in clouds: importlib.import_module('providers.' + cloud)\n"
            "assert not [m for m in sys.modules if m.endswith('.provider')], sorted(sys.modules)\n"
            "for cloud, names in clouds.items():\n"
            "    package = sys.modules['providers.' + cloud]\n"
            "    for name in names:\n"
            "        assert getattr(package, name) is getattr(sys.modules[f'providers.{cloud}.provider'], name)\n"
            "    try: package.NoSuchThing\n"
            "    except AttributeError as exc: assert 'NoSuchThing' in str(exc)\n"
            "    else: raise AssertionError('an unknown name must raise AttributeError')\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


def test_a_broken_installed_plugin_is_left_out_with_why(toycloud: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "site" / "brokencloud-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokencloud\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[spotwise.clouds]\nbrokencloud = no_such_module_here:PLUGIN\n"
                                           "aws = toycloud:PLUGIN\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    plugins.cache_clear()
    assert [p.name for p in plugins()] == ["aws", "gcp", "azure", "local", "faulty", "toycloud"]
    assert plugin("aws") is not None and plugin("aws").provider.startswith("providers.aws")  # type: ignore[union-attr]
    assert "no_such_module_here" in broken_plugins()["brokencloud"]
    assert watcher_for("brokencloud:x") is None


def test_a_builtin_store_error_still_reads_as_a_checkpoint_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure's store now lives in providers/azure and raises ObjectStoreError; callers still get the old error."""
    pytest.importorskip("azure.storage.blob", reason="azure-storage-blob is the azure extra")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT", raising=False)
    with pytest.raises(CheckpointStorageError, match="az:// needs AZURE_STORAGE_CONNECTION_STRING"):
        open_backend("az://container/prefix")
