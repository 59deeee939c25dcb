"""Which Python a local job's user can run here, so that the tests can run team jobs isolated (as root, each team
its own uid) where this machine allows it.

A virtualenv whose interpreter lives under /root (pyenv) is out of an unprivileged user's reach; the system's
Python of the same version, given this environment's packages on PYTHONPATH, is not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = os.geteuid() == 0
REPO = str(Path(__file__).resolve().parents[2])  # the code under test, which an editable install's finder maps
PYTHONPATH = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), REPO, sysconfig.get_paths()["purelib"]]))


def _runs_unprivileged(python: str, pythonpath: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import orchestrator.agent.main"], user=60100, group=60100,
                              extra_groups=[], env={"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"}, cwd="/",
                              capture_output=True, check=False)
    except OSError:
        return False
    return done.returncode == 0


def _python_for_jobs() -> tuple[str, str] | None:
    """An interpreter an unprivileged user can run with this environment's packages, and its PYTHONPATH: this
    venv's own, else the system's Python of the same version (a venv under /root is out of a job user's reach)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")):
        if python and _runs_unprivileged(python, PYTHONPATH):
            return python, PYTHONPATH
    return None


JOB_PYTHON = _python_for_jobs() if ROOT else None
# What the default (job_user: auto) does here: isolate team jobs (root, and the daemon's own Python runs for an
# unprivileged user), or refuse them
DEFAULT_ISOLATES = ROOT and _runs_unprivileged(sys.executable, os.environ.get("PYTHONPATH", ""))

