"""Job specs and the job state vocabulary, shared by the API, the store, the CLI and the policies.

Specs are strict (`extra="forbid"`): a typo in a field name is an error naming the valid fields,
never a silently ignored setting.
"""

from __future__ import annotations

import enum
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from orchestrator.jobs.imageref import is_image_reference
from providers.gpus import canonical_gpu
from providers.plugin import bucket_schemes, storage_schemes

_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
                          r"(?:(\d+(?:\.\d+)?)s)?\s*$")
_GPU_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")  # A100_80GB is a spelling of A100-80GB


class JobState(enum.StrEnum):
    PENDING = "PENDING"
    PROVISIONING = "PROVISIONING"
    RUNNING = "RUNNING"
    PREEMPTED = "PREEMPTED"
    WAITING_CAPACITY = "WAITING_CAPACITY"
    BLOCKED_BUDGET = "BLOCKED_BUDGET"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


MAX_DURATION = timedelta(days=3650)
MAX_NODES = 64  # nodes of one gang job: more is a cluster manager's job, not a spot scheduler's
MAX_GPUS_PER_NODE = 16  # the largest real shape (GCP a2-megagpu-16g); more can never be placed


def checkpoint_schemes() -> tuple[str, ...]:
    """Checkpoint store URL schemes the agent has a backend for (checkpoint/backends.open_backend): every cloud
    plugin's storage schemes (providers/plugin.py), then `file`."""
    return (*storage_schemes(), "file")


TEAM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # one rule for specs, tokens and secrets


def store_url_problem(url: str) -> str | None:
    """Why the agent could not use this checkpoint store URL (None: it can). Mirrors
    checkpoint/backends.open_backend; used for a spec's checkpoint.store and the daemon's checkpoint_store."""
    known = checkpoint_schemes()
    schemes = ", ".join(f"{s}://" for s in known)
    parsed = urlparse(url)
    if parsed.scheme not in known:
        return f"{url!r} is not a supported store URL; use one of {schemes} (e.g. s3://bucket/prefix)"
    if parsed.scheme == "file":
        if parsed.netloc or not parsed.path.startswith("/"):
            return f"{url!r}: write a file store with an absolute path, e.g. file:///shared/checkpoints"
    elif not parsed.netloc:
        return f"{url!r} names no bucket; write it like {parsed.scheme}://BUCKET/PREFIX"
    return None


def input_schemes() -> tuple[str, ...]:
    """URL schemes of buckets a data set's cloud and region can be told from: every cloud plugin's
    `bucket_schemes`, but those of a cloud whose stores are all one fixed place (the local disk: a data set there
    is on the daemon's machine, with nowhere to be moved from)."""
    return tuple(scheme for scheme, (cloud, _) in bucket_schemes().items() if not isinstance(cloud.bucket_region, str))


MAX_INPUTS = 100
MAX_INPUT_BYTES = 10**18  # an exabyte: more is a typo, not a data set
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTPE]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, **{f"{p}b": 1000 ** (i + 1) for i, p in enumerate("kmgtpe")},
               **{f"{p}ib": 1024 ** (i + 1) for i, p in enumerate("kmgtpe")}}


def parse_size(value: Any) -> int:
    """'1.2TB', '500GB', '800MiB', '42B' or a whole number of bytes -> bytes (TB = 10^12, TiB = 2^40)."""
    hint = "write a size like '1.2TB', '500GB' or '800MiB' (or a whole number of bytes)"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a size; {hint}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE_RE.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a size; {hint}")
        size = int(float(match[1]) * _SIZE_UNITS[(match[2] or "B").lower()])
    if size <= 0:
        raise ValueError(f"{value!r}: a data set's size must be more than 0 bytes; {hint}")
    if size > MAX_INPUT_BYTES:
        raise ValueError(f"{value!r} is over an exabyte; {hint}")
    return size


def input_url_problem(url: str) -> str | None:
    """Why a declared input's URL names no bucket placement could locate (None: it does)."""
    parsed = urlparse(url)
    known = input_schemes()
    schemes = ", ".join(f"{s}://" for s in known)
    if parsed.scheme not in known:
        return f"{url!r} is not a bucket URL; use one of {schemes} (e.g. s3://bucket/imagenet)"
    if not parsed.netloc or any(c.isspace() for c in url):
        return f"{url!r} names no bucket; write it like {parsed.scheme}://BUCKET/PATH"
    return None


def parse_duration(value: Any) -> timedelta:
    """'52h', '10m', '1h30m', '2d', '45s' or a number of seconds (at most ten years)."""
    try:
        result = _parse_duration(value)
    except OverflowError:
        result = MAX_DURATION * 2
    if result > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than ten years; write a duration like '52h'")
    return result


def _parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration; write it like '52h', '10m', '1h30m' or '45s'")
        if value <= 0:
            raise ValueError("must be positive")
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match and any(match.groups()):
            d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
            result = timedelta(days=d, hours=h, minutes=m, seconds=s)
            if result.total_seconds() > 0:
                return result
    raise ValueError(f"{value!r} is not a duration; write it like '52h', '10m', '1h30m' or '45s'")


def _format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    return f"{seconds:g}s"


# Durations read as '52h' and are written back as seconds ('187200s'), which reads again the same.
Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(_format_duration)]


class Accelerators(BaseModel):
    """A GPU request such as 'A100:8' (model and count per node)."""

    model_config = ConfigDict(frozen=True)
    model: str
    count: int

    def __str__(self) -> str:
        return f"{self.model}:{self.count}"

    @classmethod
    def parse(cls, value: Any) -> Accelerators:
        if isinstance(value, Accelerators):
            return value
        if isinstance(value, dict):  # {"model": "A100", "count": 8}: the same checks as the string form
            value = _accelerators_text(value)
        if not isinstance(value, str):
            raise ValueError("write accelerators as 'MODEL:COUNT', e.g. 'A100:8'")
        name, _, count_text = value.strip().partition(":")
        if not _GPU_NAME_RE.match(name):
            raise ValueError(f"{value!r}: the GPU model must be a name like A100, H100 or L4")
        count = 1
        if count_text:
            try:
                count = int(count_text)
            except ValueError:
                raise ValueError(f"{value!r}: the GPU count must be a whole number, e.g. 'A100:8'") from None
            if count < 1:
                raise ValueError(f"{value!r}: the GPU count must be at least 1, e.g. 'A100:8'")
        return cls(model=canonical_gpu(name), count=count)  # one vocabulary: a100, nvidia-tesla-t4, A100_80GB


def _accelerators_text(value: dict[Any, Any]) -> str:
    """The dict form as 'MODEL:COUNT', so it is checked by exactly the rules of the string form (a dict form
    that built the model directly once stored 'A100:-5', which no placement pass could read back)."""
    if set(value) - {"model", "count"} or "model" not in value:
        raise ValueError("write accelerators as {'model': 'A100', 'count': 8} or 'A100:8'")
    model, count = value["model"], value.get("count", 1)
    if not isinstance(model, str) or isinstance(count, bool) or not isinstance(count, int | str):
        raise ValueError("write accelerators as {'model': 'A100', 'count': 8} or 'A100:8'")
    return f"{model}:{count}"


AcceleratorField = Annotated[
    Accelerators,
    BeforeValidator(Accelerators.parse),
    PlainSerializer(str),
]


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accelerators: Annotated[
        Accelerators | None,
        BeforeValidator(lambda v: None if v is None else Accelerators.parse(v)),
        PlainSerializer(lambda v: None if v is None else str(v)),
    ] = None
    # "Any of these" GPU types besides `accelerators` (SkyPilot's candidate lists): placement ranks the offers of
    # every option together, and the job is feasible when any option is offered. `candidate_order: listed` tries
    # the options in the order written (`accelerators` first), cheapest first within each; `price` (the default)
    # takes the cheapest offer of any option.
    accelerator_candidates: list[AcceleratorField] = Field(default_factory=list, max_length=32)
    candidate_order: Literal["price", "listed"] = "price"
    spot: bool | Literal["auto"] = "auto"
    clouds: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list)
    instance_type: str | None = None
    cpus: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    max_price_per_hour: float | None = Field(default=None, gt=0)
    carbon_price: float | None = Field(default=None, ge=0, le=1000)  # USD per kg CO2e; None: the team's, else 0
    # Boot disk size per node in GB (SkyPilot's disk_size); None: the provider's configured default (GCP
    # disk_size_gb, Azure os_disk_gb, the AMI's own size on AWS). The local provider has no disk to size.
    disk_gb: int | None = Field(default=None, ge=1, le=65536)
    # Multi-node (gang) jobs: this many identical instances in one zone, launched all or none; `run` runs on
    # each with SPOTWISE_NODE_RANK / SPOTWISE_NUM_NODES / SPOTWISE_NODE_IPS / SPOTWISE_HEAD_IP set.
    num_nodes: int = 1

    @field_validator("num_nodes", mode="before")
    @classmethod
    def _node_count(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{value!r} is not a node count; write a whole number from 1 to {MAX_NODES}")
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a node count; write a whole number from 1 to {MAX_NODES}") from None
        if not 1 <= count <= MAX_NODES:
            raise ValueError(f"{count} nodes is out of range; a job runs on 1 to {MAX_NODES} nodes")
        return count

    @model_validator(mode="after")
    def _candidates_need_a_first(self) -> Resources:
        if self.accelerator_candidates and self.accelerators is None:
            raise ValueError("accelerator_candidates are alternatives to resources.accelerators; set accelerators "
                             "to the first GPU type (e.g. accelerators: A100:8, accelerator_candidates: [H100:8])")
        return self

    def gpu_options(self) -> list[Accelerators]:
        """Every GPU type the job can run on: `accelerators` first, then the candidates (duplicates once)."""
        out: list[Accelerators] = []
        for acc in ([self.accelerators] if self.accelerators else []) + self.accelerator_candidates:
            if acc not in out:
                out.append(acc)
        return out


class CheckpointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: str = "/tmp/spotwise-checkpoint"
    store: str | None = None  # s3://, gs://, az://, file:///abs (checkpoint_schemes(), checked at submit); + job id
    interval: Duration = timedelta(minutes=10)
    keep: int = Field(default=3, ge=1, le=1000)  # versions kept in the store
    stop_signal: str = "SIGTERM"  # what the job gets on a preemption notice
    grace: Duration = timedelta(seconds=30)  # how long it may take to write its checkpoint and exit

    @field_validator("stop_signal")
    @classmethod
    def _known_signal(cls, name: str) -> str:
        import signal

        full = name.upper() if name.upper().startswith("SIG") else "SIG" + name.upper()
        if full not in signal.Signals.__members__:
            raise ValueError(f"{name!r} is not a signal name; write e.g. SIGTERM, SIGINT or SIGUSR1")
        return full


class WorkdirRef(BaseModel):
    """Where a packed workdir lives: its sha256 and the store it was uploaded to ("daemon" or a bucket URL)."""

    model_config = ConfigDict(extra="forbid")
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    store: str = Field(default="daemon", min_length=1, max_length=1024)
    bytes: int = Field(default=0, ge=0)
    files: int = Field(default=0, ge=0)


_SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class JobSpec(BaseModel):
    """What a user submits (YAML or JSON)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    team: str = Field(default="default", min_length=1, max_length=64, pattern=TEAM_PATTERN)
    project: str | None = Field(default=None, max_length=64)
    labels: dict[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    setup: str | None = None
    run: str = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    checkpoint: CheckpointSpec | None = None
    deadline: datetime | Duration | None = None
    estimated_runtime: Duration | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    max_restarts: int = Field(default=3, ge=0, le=1000)
    restart_exit_codes: list[int] = Field(default_factory=list)  # user failures worth a restart (max_restarts)
    # code, data, image and secrets for the job (orchestrator/workdir, orchestrator/secrets)
    workdir: str | None = None  # a local directory; `spotwise submit` packs and uploads it
    workdir_ref: WorkdirRef | None = None  # set by the client after the upload; reused by every attempt
    file_mounts: dict[str, str] = Field(default_factory=dict)  # instance path -> bucket URL (read-only data)
    image: str | None = Field(default=None, max_length=512)  # docker:<ref>: a reference, never an option
    # who submitted it, set by the API from the token (a spec's own value is replaced): the local provider runs
    # team-token jobs only where it can isolate them (providers/local/jobuser.py); None: an internal submission
    submitted_by: Literal["admin", "team"] | None = None
    secrets: list[str] = Field(default_factory=list, max_length=100)  # names; values stay in the daemon
    # data sets the job reads, bucket URL -> size ('1.2TB'; stored as bytes): placement counts the egress and the
    # transfer time of fetching them to each offer (policies/totalcost.py)
    inputs: dict[str, Annotated[int, BeforeValidator(parse_size)]] = Field(default_factory=dict,
                                                                         max_length=MAX_INPUTS)

    @field_validator("image")
    @classmethod
    def _image_reference(cls, image: str | None) -> str | None:
        """`docker:--privileged` reached `docker run` as an option: only an image reference is accepted."""
        if image is not None and not (image.startswith("docker:") and is_image_reference(image[len("docker:"):])):
            raise ValueError(f"{image!r} is not docker:<image reference> ([registry[:port]/]name[:tag][@digest], "
                             "lowercase name, e.g. docker:nvidia/cuda:12.4.1-base-ubuntu22.04)")
        return image

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"env name {key!r} is not a valid variable name (letters, digits, _)")
        return env

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _SECRET_NAME_RE.match(name):
                raise ValueError(f"secret name {name!r} must be a variable name (letters, digits, _)")
        return names

    @field_validator("file_mounts")
    @classmethod
    def _mounts(cls, mounts: dict[str, str]) -> dict[str, str]:
        for path, url in mounts.items():
            if not path.startswith("/") or ".." in path.split("/"):
                raise ValueError(f"file_mounts path {path!r} must be absolute without '..', e.g. /data")
            if "://" not in url:
                raise ValueError(f"file_mounts source {url!r} must be a URL like s3://bucket/path or gs://...")
        return mounts

    @field_validator("inputs")
    @classmethod
    def _input_urls(cls, inputs: dict[str, int]) -> dict[str, int]:
        for url in inputs:
            problem = input_url_problem(url)
            if problem:
                raise ValueError(problem)
        return inputs

    @model_validator(mode="after")
    def _deadline_is_future_or_relative(self) -> JobSpec:
        if isinstance(self.deadline, datetime) and self.deadline.tzinfo is None:
            self.deadline = self.deadline.replace(tzinfo=UTC)
        return self

    def deadline_at(self, submitted_at: datetime) -> datetime | None:
        """Absolute deadline: a duration counts from submission."""
        if self.deadline is None:
            return None
        if isinstance(self.deadline, timedelta):
            return submitted_at + self.deadline
        return self.deadline
