"""toycloud's provider: local processes as instances (the local provider's machinery), under its own cloud name,
with its own preemption notice (a text file read by toycloud.notices, not the local provider's JSON)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from providers.local.provider import LocalProvider


class ToyProvider(LocalProvider):
    name: ClassVar[str] = "toycloud"

    def _notice_source(self, instance_id: str) -> str:
        return f"toycloud:{self._notice_path(instance_id)}"

    def _identity_source(self) -> str:
        return "toycloud"  # toycloud.identity proves the instance

    def _write_notice(self, path: Path, deadline: datetime) -> None:
        seconds = max(0.0, (deadline - datetime.now(UTC)).total_seconds())
        path.write_text(f"preempt {seconds:.3f}\n")
        path.chmod(0o644)

    def _base_env(self) -> dict[str, str]:
        """The agent reaches the toy:// store through the same root as the daemon."""
        env = super()._base_env()
        if "TOYCLOUD_STORE_ROOT" in os.environ:
            env["TOYCLOUD_STORE_ROOT"] = os.environ["TOYCLOUD_STORE_ROOT"]
        return env
