"""Who a local job runs as, and the private directories it gets (outside the daemon's home).

Why: a job of the local provider is a process on the daemon's own machine. Run as the daemon's user, inside its
home, a team's job could read the admin token, the keys and the database, and every other job's files and
/proc/PID/environ. So when the daemon runs as root, each team's jobs run as that team's own unprivileged uid
(allocated from `job_uid_base` once per team and kept in the provider's private state), in directories under
`jobs_dir` -- outside the home -- that only that uid can enter. Two teams' jobs cannot read each other's files,
environment or checkpoints; jobs of one team share a uid (a team is the unit of trust here).

`job_user` (provider setting):
- `auto` (default): per-team users when the daemon runs as root and an unprivileged user can run the agent's
  interpreter (checked once, at the first launch); otherwise jobs run as the daemon's user and the provider
  *refuses jobs submitted with a team token* (they fail with the reason): such a job could read the admin token.
  Jobs an admin submitted run either way.
- `team`: per-team users or no launch at all (a daemon not started as root refuses to start the provider).
- `daemon`: the admin's opt-in for a single user's machine: every job, team-token jobs included, runs as the
  daemon's user and can read the daemon's home.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.errors import InvalidRequest

MODES = ("auto", "team", "daemon")
DEFAULT_UID_BASE = 60100  # Debian's range for globally allocated system ids; skipped where one exists
UID_SLOTS = 800
UIDS_FILE = "job-uids.json"
PRIVATE_TREE = 0o700
TRAVERSE_ONLY = 0o711  # a job may pass through to its own directory, never list the others


def jobs_root(home: Path, config: Mapping[str, Any]) -> Path:
    """Where job directories live: `jobs_dir`, else a directory of the temporary tree named after the provider's
    state directory (so two daemons on one machine never share one)."""
    configured = config.get("jobs_dir")
    if configured:
        return Path(str(configured))
    state_dir = Path(str(config.get("state_dir") or home / "local-provider"))
    tag = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"spotwise-jobs-{tag}"


def checkpoint_root(home: Path, providers: Mapping[str, Any], provider: str) -> Path | None:
    """The default checkpoint directory of jobs on `provider` when it is the local provider (or wraps it);
    None for any other provider."""
    section = providers.get(provider)
    section = section if isinstance(section, Mapping) else {}
    if provider != "local" and section.get("wraps") != "local":
        return None
    if provider != "local":
        section = section.get("wrapped_config") or {}
    return jobs_root(home, section) / "checkpoints"


@dataclass(frozen=True)
class JobUser:
    """The uid and gid a job runs as; None: the daemon's own."""

    uid: int | None = None
    gid: int | None = None


class JobUsers:
    """Per-team uids and the private directory tree of the local provider's jobs."""

    def __init__(self, root: Path, state_dir: Path, mode: str = "auto", uid_base: int = DEFAULT_UID_BASE) -> None:
        if mode not in MODES:
            raise InvalidRequest(f"job_user must be one of {', '.join(MODES)}, not {mode!r}", provider="local")
        is_root = os.geteuid() == 0
        if mode == "team" and not is_root:
            raise InvalidRequest("job_user: team runs each team's jobs as its own uid, which needs a daemon started "
                                 "as root; start it as root or set job_user: daemon (single-user machines only)",
                                 provider="local")
        if isinstance(uid_base, bool) or not isinstance(uid_base, int) or not 1000 <= uid_base <= 2**31 - UID_SLOTS:
            raise InvalidRequest(f"job_uid_base must be a whole number from 1000, not {uid_base!r}", provider="local")
        self.mode = mode
        self.per_team = mode == "team" or (mode == "auto" and is_root)
        self._probed: str | None = None  # "" once a job user could run the agent; else why it could not
        self.root = root
        self.uid_base = uid_base
        self._uids_path = state_dir / UIDS_FILE
        self._private_root()

    def _private_root(self) -> None:
        """The root and its fixed subfolders: ours, traversable, never writable or listable by a job."""
        for folder in (self.root, self.root / "instances", self.root / "checkpoints", self.root / "notices",
                       self.root / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
            info = folder.lstat()
            if info.st_uid != os.geteuid() or not os.path.isdir(folder) or os.path.islink(folder):
                raise InvalidRequest(f"{folder} is not a directory owned by the daemon's user; remove it or set "
                                     "jobs_dir elsewhere", provider="local")
            folder.chmod(TRAVERSE_ONLY if folder.name != "logs" else PRIVATE_TREE)

    def user_for(self, team: str, team_job: bool, python: str, env: dict[str, str]) -> JobUser:
        """Who runs a job of `team` (call under the provider's records lock). InvalidRequest (the job fails with
        the reason) for a team-token job this provider cannot isolate, unless the admin chose `daemon`."""
        why = self._why_not_isolated(python, env)
        if not why:
            return self._team_uid(team)
        if self.mode == "team":
            raise InvalidRequest(f"job_user: team, but {why}", provider="local")
        if team_job and self.mode == "auto":
            raise InvalidRequest(
                f"the local provider cannot isolate a team's job from the daemon and other teams here ({why}), so it "
                "refuses jobs submitted with a team token; start the daemon as root with an interpreter every user "
                "can run (the `python` setting), or, on a single user's machine only, set providers.local.job_user: "
                "daemon (such a job can read the admin token)", provider="local")
        return JobUser()

    def _why_not_isolated(self, python: str, env: dict[str, str]) -> str:
        """"" when jobs run as per-team users; else the reason they cannot."""
        if not self.per_team:
            return "the daemon does not run as root" if self.mode == "auto" else "job_user is daemon"
        if self._probed is None:
            self._probed = self._probe(python, env)
        return self._probed

    def _probe(self, python: str, env: dict[str, str]) -> str:
        """Can an unprivileged user run the agent with this interpreter? (A Python under /root cannot.)"""
        try:
            done = subprocess.run([python, "-c", "import orchestrator.agent.main"], env=env, cwd="/",
                                  user=self.uid_base, group=self.uid_base, extra_groups=[], capture_output=True,
                                  timeout=120, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"an unprivileged user cannot run {python}: {exc}"
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            return f"an unprivileged user cannot run the agent with {python}: {tail[0]}"
        return ""

    def _team_uid(self, team: str) -> JobUser:
        """The team's uid, allocated on first use."""
        try:
            table: dict[str, int] = json.loads(self._uids_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            table = {}
        uid = table.get(team)
        if uid is None:
            uid = self._free_uid(set(table.values()))
            table[team] = uid
            tmp = self._uids_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(table, sort_keys=True))
            os.replace(tmp, self._uids_path)
        return JobUser(uid, uid)

    def _free_uid(self, taken: set[int]) -> int:
        for uid in range(self.uid_base, self.uid_base + UID_SLOTS):
            if uid not in taken and not _exists(uid):
                return uid
        raise InvalidRequest(f"no free job uid left in {self.uid_base}-{self.uid_base + UID_SLOTS - 1}; set "
                             "job_uid_base to a free range", provider="local")

    def private_dir(self, path: Path, user: JobUser) -> Path:
        """Make `path` (directly under one of our folders) a directory only `user` can enter."""
        path.mkdir(parents=True, exist_ok=True)
        if user.uid is not None and user.gid is not None:
            os.chown(path, user.uid, user.gid, follow_symlinks=False)
        path.chmod(PRIVATE_TREE)
        return path


def _exists(uid: int) -> bool:
    """A uid or gid a real account or group already has: never handed to a job."""
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    try:
        grp.getgrgid(uid)
        return True
    except KeyError:
        return False
