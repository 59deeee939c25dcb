"""The wheel of this very Spotwise, served to instances so they run exactly the daemon's version.

Built once with `pip wheel --no-deps` from a copy of the source tree into SPOTWISE_HOME/wheels/<fingerprint>/, where
the fingerprint hashes the version and every packaged source file: an edited tree gets a new wheel, an unchanged
one reuses the cached file, so re-issued launches render byte-identical start-up scripts. A deployment installed
from a wheel (no source tree) points `agent_wheel` at that wheel instead.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.config import Settings

SOURCE_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestrator", "providers", "policies")
TOP_FILES = ("pyproject.toml", "README.md")
_lock = threading.Lock()


class WheelUnavailable(RuntimeError):
    """No wheel can be served; the message says how to configure one."""


@dataclass(frozen=True)
class AgentWheel:
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sources(root: Path) -> list[Path]:
    files = [root / name for name in TOP_FILES if (root / name).is_file()]
    for package in PACKAGES:
        files += [p for p in (root / package).rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".pyo")]
    return sorted(files)


def fingerprint(root: Path = SOURCE_ROOT) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in _sources(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _build(root: Path, out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="spotwise-wheel-") as scratch:
        copy = Path(scratch) / "src"
        for path in _sources(root):  # a copy: building in the tree would write build/ next to other people's work
            target = copy / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        built = Path(scratch) / "dist"
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(built),
             str(copy)], capture_output=True, text=True, timeout=300)
        wheels = sorted(built.glob("spotwise-*.whl"))
        if result.returncode != 0 or not wheels:
            raise WheelUnavailable(f"building the agent wheel failed: {result.stderr.strip()[-500:]}")
        out.mkdir(parents=True, exist_ok=True)
        final = out / wheels[0].name
        shutil.copy2(wheels[0], final.with_suffix(".tmp"))
        final.with_suffix(".tmp").replace(final)
        return final


def agent_wheel(settings: Settings) -> AgentWheel:
    """The wheel to serve: the configured one, or our own (built on first use, then cached)."""
    if settings.agent_wheel:
        path = Path(settings.agent_wheel)
        if not path.is_file():
            raise WheelUnavailable(f"agent_wheel {path} does not exist")
        return AgentWheel(path, _sha256(path))
    if not (SOURCE_ROOT / "pyproject.toml").is_file():
        raise WheelUnavailable("this Spotwise was installed without its source tree; set SPOTWISE_AGENT_WHEEL to "
                               "the wheel it was installed from")
    with _lock:
        cache = settings.home / "wheels" / fingerprint()
        found = sorted(cache.glob("spotwise-*.whl")) if cache.is_dir() else []
        path = found[0] if found else _build(SOURCE_ROOT, cache)
        return AgentWheel(path, _sha256(path))


def pinned_wheel(settings: Settings, provider: str) -> dict[str, Any]:
    """AgentBootstrap fields for a launch: the wheel's name and sha256, pinned into the start-up script. The local
    provider runs the daemon's own code directly, and without a wheel the script falls back to pip from the index."""
    base: dict[str, Any] = {"pip_args": settings.agent_pip_args, "max_restarts": settings.agent_max_restarts}
    if provider == "local":
        return base
    try:
        wheel = agent_wheel(settings)
    except WheelUnavailable:
        return base
    return {**base, "wheel_name": wheel.name, "wheel_sha256": wheel.sha256}
