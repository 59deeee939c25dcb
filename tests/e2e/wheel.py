"""The agent wheel a test daemon serves: built once per source tree, configured as `agent_wheel`.

Why: a daemon whose provider is not the bare `local` one (the chaos runs' `faulty` wrapper, the clouds on their
fakes) pins its own wheel into every start-up script. Left to itself it builds that wheel with `pip wheel` on
its first launch, inside the reconcile pass (8-16 s on a loaded 2-core box, nothing launched meanwhile), once
per test home, and again whenever the source tree's fingerprint changes -- several times a run on a machine
where the tree is being edited. Those builds were a large share of the bounded chaos runs' run-to-run spread.
Here the same code (orchestrator/provisioning/agentwheel.py) builds it once per tree, cached by fingerprint across
runs and sessions, and the daemon is pointed at a copy with SPOTWISE_AGENT_WHEEL, as a deployment installed from a
wheel is: the start-up script pins that file's name and sha256 exactly as it would its own build's. The cache is
shared by every test process on the machine (parallel workers, other checkouts): a file lock makes the first build
for a fingerprint the only one, where two processes would otherwise write the same temporary file at once.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from pathlib import Path

from orchestrator.config import Settings
from orchestrator.provisioning.agentwheel import WheelUnavailable, agent_wheel

CACHE_HOME = Path(tempfile.gettempdir()) / "spotwise-test-wheels"  # wheels/<fingerprint>/spotwise-*.whl


def cached_agent_wheel() -> str:
    """The path of this tree's wheel in the shared cache, built on first use; "" when none can be built."""
    CACHE_HOME.mkdir(parents=True, exist_ok=True)
    with open(CACHE_HOME / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        try:  # model_construct: only home and agent_wheel are read, and no SPOTWISE_* variable of the test leaks in
            return str(agent_wheel(Settings.model_construct(home=CACHE_HOME, agent_wheel="")).path)
        except WheelUnavailable:
            return ""


def agent_wheel_env(home: Path) -> dict[str, str]:
    """SPOTWISE_AGENT_WHEEL for a daemon in `home`: this tree's wheel, copied into `home`; {} when none can be
    built (the daemon then meets, and reports, the same problem in its own launch path)."""
    wheel = cached_agent_wheel()
    if not wheel:
        return {}
    target = home / "agent-wheel" / Path(wheel).name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, target)
    return {"SPOTWISE_AGENT_WHEEL": str(target)}
