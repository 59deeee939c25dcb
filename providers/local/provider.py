"""`LocalProvider`: the `local` cloud's Provider. What an instance is here, `pool_capacity`, and who a job runs
as are told in the package docstring (providers/local/__init__.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from providers.base import (
    TAG_CLUSTER,
    Capability,
    CapacityError,
    ErrorScope,
    Identity,
    InstanceInfo,
    InstanceState,
    Interruption,
    InvalidRequest,
    LaunchSpec,
    Offer,
    OfferQuery,
    PreflightRow,
    SpotPrice,
    credentials_row,
)
from providers.gpus import canonical_gpu
from providers.local import processes
from providers.local.jobuser import DEFAULT_UID_BASE, JobUser, JobUsers, jobs_root
from providers.local.records import InstanceRecord, RecordStore

CATALOG_PATH = Path(__file__).resolve().parent.parent / "catalog" / "local.json"
# Only these variables of the daemon's environment reach an instance: a real instance starts
# clean, and the daemon's own secrets (admin token, cloud keys) must never reach a job.
_PASSTHROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "PYTHONPATH")


@cache
def load_catalog() -> dict[str, Any]:
    return json.loads(CATALOG_PATH.read_text())  # type: ignore[no-any-return]


def _now() -> datetime:
    return datetime.now(UTC)


class LocalProvider:
    """Instances are local agent processes; see the module docstring."""

    name: ClassVar[str] = "local"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SPOT, Capability.ON_DEMAND, Capability.PREEMPT_ON_REQUEST}
    )

    def __init__(self, state_dir: Path, *, python: str | None = None, preempt_grace_seconds: float = 5.0,
                 pool_capacity: dict[str, int] | None = None, jobs_dir: Path | str | None = None,
                 job_user: str = "auto", job_uid_base: int = DEFAULT_UID_BASE):
        self.records = RecordStore(state_dir)
        self.python = python or sys.executable
        self.preempt_grace_seconds = preempt_grace_seconds
        self.pool_capacity = _capacity(pool_capacity)
        root = Path(jobs_dir) if jobs_dir else jobs_root(state_dir.parent, {"state_dir": str(state_dir)})
        self.users = JobUsers(root, state_dir, job_user, job_uid_base)
        if job_user == "daemon":
            logging.getLogger(__name__).warning(
                "local jobs run as the daemon's own user (job_user: daemon): any job, a team's too, can read the "
                "daemon's home (admin token, keys, database); for a single user's machine only")

    @classmethod
    def from_config(cls, config: dict[str, Any], *, home: Path) -> LocalProvider:
        root = jobs_root(home, config)
        config.pop("jobs_dir", None)
        state_dir = Path(config.pop("state_dir", home / "local-provider"))
        return cls(state_dir, jobs_dir=root, **config)

    # -- Provider protocol -------------------------------------------------------------------

    def check_credentials(self) -> Identity:
        return Identity(provider=self.name, account=os.environ.get("USER", "local"), detail=str(self.records.root))

    def preflight(self, api_url: str, *, cloud_calls: bool = True) -> list[PreflightRow]:
        """Nothing to launch into but this machine: the credential probe (who runs the jobs, where) is all."""
        return [credentials_row(self)]

    def list_offers(self, query: OfferQuery) -> list[Offer]:
        catalog = load_catalog()
        fetched = _now()
        zone_region = {z: r for r, zones in catalog["regions"].items() for z in zones}
        offers = []
        for t in catalog["types"]:
            for zone, region in zone_region.items():
                if query.regions and region not in query.regions:
                    continue
                common = dict(
                    cloud=self.name, region=region, zone=zone, instance_type=t["instance_type"],
                    gpu_model=canonical_gpu(t["gpu_model"]) if t["gpu_model"] else "", gpu_count=t["gpu_count"],
                    gpu_memory_gb=t["gpu_memory_gb"],
                    vcpus=t["vcpus"], memory_gb=t["memory_gb"], price_fetched_at=fetched,
                    on_demand_price=t["on_demand"],
                )
                if query.spot is not True:
                    offers.append(Offer(spot=False, price_per_hour=t["on_demand"], **common))
                spot_price = t["spot"].get(zone)
                if spot_price is not None and query.spot is not False:
                    offers.append(Offer(spot=True, price_per_hour=spot_price, **common))
        return offers

    def spot_prices(self, pools: Sequence[Offer]) -> list[SpotPrice]:
        """Price-only refresh: the catalog file's spot prices, read again (an edit to it shows up)."""
        catalog = json.loads(CATALOG_PATH.read_text())
        spot = {t["instance_type"]: t["spot"] for t in catalog["types"]}
        fetched = _now()
        return [SpotPrice(p.region, p.zone, p.instance_type, price, fetched) for p in pools
                if p.cloud == self.name and (price := spot.get(p.instance_type, {}).get(p.zone)) is not None]

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        instance_id = "local-" + hashlib.sha256(spec.idempotency_key.encode()).hexdigest()[:12]
        offer = spec.offer
        if offer.cloud != self.name:
            raise InvalidRequest(f"offer is for cloud {offer.cloud!r}, not local", provider=self.name)
        with self.records.locked():
            existing = self.records.get(instance_id)
            if existing is not None:
                if existing.pid is None and existing.terminated_at is None and not processes.instance_pids(
                    existing.id
                ):
                    # A launch interrupted between recording and starting: finish it.
                    existing.pid = self._start_agent(existing, spec, self._job_user(spec))
                    self.records.put(existing)
                return self._describe_record(existing)
            self._check_room(offer)
            user = self._job_user(spec)  # before the record: a refused job leaves nothing behind
            record = InstanceRecord(
                id=instance_id, idempotency_key=spec.idempotency_key, region=offer.region, zone=offer.zone,
                instance_type=offer.instance_type, spot=offer.spot, price_per_hour=offer.price_per_hour,
                launched_at=_now().isoformat(), tags=spec.tags,
            )
            # Record first, then start: a crash in between leaves a record whose process the
            # next describe finds by its environment marker, or finds absent (then terminated).
            # `launched_at` is taken before the agent starts: the ledger bills from it, start-up included, as a
            # cloud bills a VM from its launch.
            self.records.put(record)
            record.pid = self._start_agent(record, spec, user)
            self.records.put(record)
        return self._describe_record(record)

    def describe(self, ids: Sequence[str]) -> list[InstanceInfo]:
        live = processes.live_instances()
        found = []
        for instance_id in ids:
            record = self.records.get(instance_id)
            if record is not None:
                found.append(self._describe_record(record, live))
        return found

    def list_managed(self, cluster_id: str) -> list[InstanceInfo]:
        live = processes.live_instances()
        infos = [
            self._describe_record(r, live)
            for r in self.records.all()
            # a record ended long ago with nothing left running cannot come back: skip it cheaply
            if r.tags.get(TAG_CLUSTER) == cluster_id and (r.terminated_at is None or r.id in live)
        ]
        return [i for i in infos if i.state is not InstanceState.TERMINATED]

    def terminate(self, ids: Sequence[str]) -> None:
        for instance_id in ids:
            with self.records.locked():
                record = self.records.get(instance_id)
                if record is None:
                    continue
                if record.terminated_at is None:
                    record.terminated_at = _now().isoformat()
                    record.state_reason = record.state_reason or "terminated-by-request"
                    self.records.put(record)
            processes.kill_instance(instance_id)

    def interruption_events(self) -> list[Interruption]:
        events = []
        for record in self.records.all():
            if record.preempt_at and record.terminated_at is None:
                deadline = datetime.fromisoformat(record.preempt_at)
                noticed = deadline - timedelta(seconds=self.preempt_grace_seconds)
                events.append(Interruption(record.id, "preemption", noticed, deadline))
        return events

    # -- Local-only: chaos -------------------------------------------------------------------

    def preempt(self, instance_id: str, grace_seconds: float | None = None) -> InstanceInfo:
        """Reclaim a spot instance as a cloud would: write the notice, kill after the grace period."""
        grace = self.preempt_grace_seconds if grace_seconds is None else grace_seconds
        with self.records.locked():
            record = self.records.get(instance_id)
            if record is None:
                raise InvalidRequest(f"no local instance {instance_id!r}", provider=self.name)
            if not record.spot:
                raise InvalidRequest(f"{instance_id} is on-demand; only spot instances are preempted",
                                     provider=self.name)
            if record.terminated_at is None and record.preempt_at is None:
                deadline = _now() + timedelta(seconds=grace)
                record.preempt_at = deadline.isoformat()
                self.records.put(record)
                self._write_notice(self._notice_path(instance_id), deadline)
        timer = threading.Timer(grace, self._enforce_preemption, args=(instance_id,))
        timer.daemon = True
        timer.start()
        return self._describe_record(self.records.get(instance_id) or record)

    # -- internals ---------------------------------------------------------------------------

    def _check_room(self, offer: Offer) -> None:
        """CapacityError when `pool_capacity` says the offer's pool is full (live instances, both markets)."""
        for key in (f"{offer.zone}:{offer.instance_type}", offer.zone):
            room = self.pool_capacity.get(key)
            if room is None:
                continue
            live = [r for r in self.records.all() if r.terminated_at is None and r.zone == offer.zone and (
                key == offer.zone or r.instance_type == offer.instance_type)]
            if len(live) >= room:
                raise CapacityError(f"no capacity for {offer.instance_type} in {offer.zone} ({len(live)} of {room} "
                                    "instances in use)", provider=self.name, scope=ErrorScope.POOL,
                                    raw_code="InsufficientInstanceCapacity")

    def _job_user(self, spec: LaunchSpec) -> JobUser:
        return self.users.user_for(spec.team, spec.team_job, self.python, self._base_env())

    def _base_env(self) -> dict[str, str]:
        """What every agent's environment starts from: the pass-through variables and the interpreter's bin/."""
        env = {k: os.environ[k] for k in _PASSTHROUGH_ENV if k in os.environ}
        env["PATH"] = str(Path(self.python).parent) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        return env

    def _notice_path(self, instance_id: str) -> Path:
        return self.users.root / "notices" / f"{instance_id}.json"

    def _notice_source(self, instance_id: str) -> str:
        """The agent's SPOTWISE_NOTICE: which cloud plugin's watcher reads the notice, and where. A provider built
        on this one (a test cloud installed by entry point) names its own watcher here and in `_write_notice`."""
        return f"local:{self._notice_path(instance_id)}"

    def _identity_source(self) -> str:
        """The agent's SPOTWISE_IDENTITY: which cloud plugin's identity module proves the instance (ours: the
        instance id, SPOTWISE_INSTANCE_ID, checked against the record). A provider built on this one names its own."""
        return "local"

    def _write_notice(self, path: Path, deadline: datetime) -> None:
        """Post the preemption notice where the instance's watcher looks: ours, never in the job's own (writable)
        directory; shaped like AWS's instance-action document."""
        path.write_text(json.dumps({"action": "terminate", "time": deadline.isoformat()}))
        path.chmod(0o644)

    def _start_agent(self, record: InstanceRecord, spec: LaunchSpec, user: JobUser) -> int:
        """Start the agent as `user` in its private directory; its checkpoint directory made private to it too."""
        workdir = self.users.private_dir(self.users.root / "instances" / record.id, user)
        self.users.private_dir(self.users.root / "checkpoints" / spec.job_id, user)
        env = self._base_env()
        env["HOME"] = str(workdir)
        env.update(
            {
                processes.MARKER_VAR: record.id,
                processes.CLUSTER_VAR: spec.cluster_id,
                "SPOTWISE_URL": spec.bootstrap.api_url,
                "SPOTWISE_BOOTSTRAP_TOKEN": spec.bootstrap.token,  # exchanged once, with the identity below
                "SPOTWISE_IDENTITY": self._identity_source(),
                "SPOTWISE_ATTEMPT_ID": spec.bootstrap.attempt_id,
                "SPOTWISE_INSTANCE_ID": record.id,
                "SPOTWISE_WORK_ROOT": str(workdir / "work"),
                "SPOTWISE_NOTICE": self._notice_source(record.id),
                "SPOTWISE_PATH_PREFIX": str(workdir / "disk"),
                "SPOTWISE_NODE_IP": "127.0.0.1",  # every local gang node is on this host
            }
        )
        as_user: dict[str, Any] = {} if user.uid is None else {
            "user": user.uid, "group": user.gid, "extra_groups": [], "umask": 0o077}
        with open(self.users.root / "logs" / f"{record.id}.log", "ab") as log:  # ours: a job cannot redirect it
            proc = subprocess.Popen(
                [self.python, "-m", "orchestrator.agent"],
                env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, **as_user,
            )
        # Reap the child when it exits so it does not linger as a zombie under this process.
        threading.Thread(target=proc.wait, daemon=True, name=f"reap-{record.id}").start()
        return proc.pid

    def _enforce_preemption(self, instance_id: str) -> None:
        with self.records.locked():
            record = self.records.get(instance_id)
            if record is None or record.terminated_at is not None:
                return
            record.preempted = True
            record.terminated_at = _now().isoformat()
            record.state_reason = "spot-preempted"
            self.records.put(record)
        processes.kill_instance(instance_id)

    def _describe_record(self, record: InstanceRecord, live: dict[str, list[int]] | None = None) -> InstanceInfo:
        if record.preempt_at and record.terminated_at is None and _now() >= datetime.fromisoformat(
            record.preempt_at
        ):
            self._enforce_preemption(record.id)  # the timer died with a previous daemon
            record = self.records.get(record.id) or record
            live = None  # the snapshot predates the kill
        alive = bool(processes.instance_pids(record.id)) if live is None else record.id in live
        if not alive and record.pid is not None and record.terminated_at is None:
            # The agent finished and the "machine" shut down: record it once, as a cloud would.
            record.terminated_at = _now().isoformat()
            record.state_reason = record.state_reason or "agent-exited"
            self.records.put(record)
        if record.terminated_at is not None:
            state = InstanceState.TERMINATED if not alive else InstanceState.STOPPING
        elif alive:
            state = InstanceState.RUNNING
        elif record.pid is None:
            state = InstanceState.PENDING  # recorded, process not started yet (or launch crashed)
        else:
            state = InstanceState.TERMINATED  # the agent finished and the "machine" shut down
        return InstanceInfo(
            id=record.id, uid=record.id, provider=self.name, region=record.region, zone=record.zone,
            instance_type=record.instance_type, spot=record.spot, state=state,
            price_per_hour=record.price_per_hour, launched_at=datetime.fromisoformat(record.launched_at),
            tags=dict(record.tags), preempted=record.preempted,
            state_reason=record.state_reason or ("agent-exited" if state is InstanceState.TERMINATED else ""),
        )


def _capacity(config: dict[str, int] | None) -> dict[str, int]:
    """Validate `pool_capacity`: keys "ZONE" or "ZONE:TYPE", values whole numbers >= 0."""
    out: dict[str, int] = {}
    for key, value in (config or {}).items():
        if not isinstance(key, str) or not key or isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidRequest(f"pool_capacity entry {key!r}: {value!r} must map 'ZONE' or 'ZONE:TYPE' to a "
                                 "whole number >= 0", provider="local")
        out[key] = value
    return out
