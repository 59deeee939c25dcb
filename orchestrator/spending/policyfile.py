"""The YAML policy file: budgets, caps and idle rules, validated strictly with line-precise messages.

Why strict: a typo in a budget (`acton: stop`) silently ignored would cost real money. Every model
forbids unknown fields, and each error names the YAML line, the field path and the valid choices.
A refused file changes nothing: validation happens before anything is stored.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.formats.strictyaml import load_strict

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SCOPE = re.compile(r"^(global|team:[\w.-]+|project:[\w.-]+|label:[\w./-]+=[\w./-]*)$")


def parse_duration(value: Any) -> float:
    """'90s', '10m', '2h', '1d' or a number of seconds -> seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 10m, 2h or 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _scope(value: str) -> str:
    if not _SCOPE.match(value):
        raise ValueError(f"scope {value!r} is not valid; use global, team:NAME, project:NAME or label:KEY=VALUE")
    return value


class Threshold(_Strict):
    """A point in a budget where something happens: each is crossed at most once per period."""

    percent: float = Field(gt=0, le=1000, description="of the limit; 80 means 80%, up to 1000")
    action: Literal["alert", "block_new", "stop"] = Field(
        description="alert: a `cost.threshold` alert only; block_new: new launches in scope wait in BLOCKED_BUDGET; "
                    "stop: also checkpoint and stop the running jobs in scope (they resume when the budget allows)")


class Budget(_Strict):
    """A spending limit over a period for the jobs in a scope, with thresholds that alert, block or stop."""

    name: str = Field(min_length=1, max_length=64, description="unique in the file; names the budget in alerts")
    scope: str = Field(default="global", description="which jobs count: global, team:NAME, project:NAME or "
                       "label:KEY=VALUE")
    period: Literal["daily", "weekly", "monthly", "total"] = Field(
        description="when the spend starts again from zero: each day, week (from Monday), calendar month, or "
                    "never (total)")
    timezone: str = Field(default="UTC", description="IANA zone where the period starts at midnight, e.g. "
                          "Europe/Berlin")
    limit_usd: float = Field(gt=0, description="the budget in US dollars for one period")
    thresholds: list[Threshold] = Field(default_factory=lambda: [Threshold(percent=100, action="alert")],
                                        description="what happens at which percentage of the limit; default: "
                                        "one alert at 100%")
    forecast_alert: bool = Field(default=True, description="send `cost.forecast` when the current burn rate will "
                                 "reach the limit before the period ends")

    _check_scope = field_validator("scope")(classmethod(lambda cls, v: _scope(v)))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = sorted(z for z in available_timezones() if z.lower().startswith(value[:3].lower()))[:5]
            raise ValueError(f"unknown timezone {value!r}" + (f"; did you mean {', '.join(close)}?" if close
                             else "; use an IANA name such as Europe/Berlin")) from None
        return value


class Cap(_Strict):
    """Per-job limits for the jobs in a scope; where several caps match a job, the strictest value of each wins."""

    scope: str = Field(default="global", description="which jobs: global, team:NAME, project:NAME or label:KEY=VALUE")
    max_price_per_hour: float | None = Field(default=None, gt=0, description="US dollars per hour: offers above it "
                                             "are not placed (the job waits and says so)")
    max_runtime: float | None = Field(default=None, description="paid instance time over all attempts, seconds or "
                                      "30m / 48h; then the job is checkpointed, stopped and FAILED")
    max_cost_per_job: float | None = Field(default=None, gt=0, description="US dollars over all attempts; then "
                                           "the job is checkpointed, stopped and FAILED")
    # the highest `priority` a job in scope may have: a submit above it is refused
    # (orchestrator/spending/priority_caps.py)
    max_priority: int | None = Field(default=None, ge=-1000, le=1000, description="the highest `priority` a job "
                                     "may have: a submit above it is refused, queued jobs above it are lowered")

    _check_scope = field_validator("scope")(classmethod(lambda cls, v: _scope(v)))

    @field_validator("max_runtime", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)


class IdleRule(_Strict):
    """Shut down instances whose GPUs sit idle; the first rule whose scope matches a job applies to it."""

    scope: str = Field(default="global", description="which jobs: global, team:NAME, project:NAME or "
                       "label:KEY=VALUE")
    gpu_utilization_below: float = Field(default=5.0, ge=0, le=100, description="percent: an instance below it "
                                         "(or whose job process is not running) counts as idle")
    window: float = Field(default=600.0, description="idle this long (seconds, or 90s / 10m / 2h) before the "
                          "`idle.warning` alert")
    grace: float = Field(default=300.0, description="after the warning, shut down if still idle this long")
    action: Literal["terminate", "stop"] = Field(default="terminate", description="terminate the instance and "
                                                 "fail the job with the reason (`stop` does the same: an instance "
                                                 "is never reused)")

    _check_scope = field_validator("scope")(classmethod(lambda cls, v: _scope(v)))

    @field_validator("window", "grace", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class PolicyFile(_Strict):
    """The whole file: applied as one new version, or refused whole with every problem named."""

    budgets: list[Budget] = Field(default_factory=list, description="spending limits (below)")
    caps: list[Cap] = Field(default_factory=list, description="per-job limits (below)")
    idle: list[IdleRule] = Field(default_factory=list, description="idle shutdown rules (below)")
    dry_run: bool = Field(default=False, description="decide and alert as usual, but never block, stop or "
                          "terminate: to try a policy on real traffic")
    max_actions_per_sweep: int = Field(default=50, ge=1, description="at most this many stops or shutdowns per "
                                       "sweep of each kind (budgets, caps, idle): a wrong rule cannot stop "
                                       "everything at once")

    @field_validator("budgets")
    @classmethod
    def _unique_names(cls, value: list[Budget]) -> list[Budget]:
        names = [b.name for b in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"budget names must be unique; repeated: {', '.join(dupes)}")
        return value


class PolicyError(Exception):
    """A refused policy file; `problems` holds one line per mistake, each naming line and field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def _walk(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    nxt, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line


EMPTY_FILE = ("empty policy file: applying it would remove every budget, cap and idle rule; to remove them all, "
              "apply an explicit `budgets: []` (and `caps: []`, `idle: []`)")

# The model of each list field, to name the valid fields of the object an unknown field was found in.
_ITEM_MODELS: dict[str, type[BaseModel]] = {"budgets": Budget, "caps": Cap, "idle": IdleRule, "thresholds": Threshold}


def _owner(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model that holds the field at `loc` (its last part): ('budgets', 0, 'bogus') -> Budget."""
    names = [p for p in loc[:-1] if isinstance(p, str)]
    return _ITEM_MODELS.get(names[-1], PolicyFile) if names else PolicyFile


def _problem(err: Any, root: yaml.Node | None) -> str:
    """One line for one validation error: YAML line, field path, what is wrong and the valid choices."""
    loc = tuple(err["loc"])
    line = _walk(root, loc)
    field = ".".join(str(p) for p in loc) or "(top level)"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = f"unknown field '{loc[-1]}'; valid fields are: {', '.join(_owner(loc).model_fields)}"
    elif err["type"] == "literal_error":
        message = f"{err['input']!r} is not allowed; {message[0].lower()}{message[1:]}"
    return f"line {line}: {field}: {message}" if line else f"{field}: {message}"


def _non_finite(value: Any, loc: tuple[Any, ...], root: yaml.Node | None) -> list[str]:
    """Every infinite or NaN number in a validated policy: `limit_usd: .inf` was applied, and then no spend ever
    reached the limit and the dashboard showed null. Checked on the model (a duration of '1e400d' is inf too)."""
    if isinstance(value, float) and not math.isfinite(value):
        line = _walk(root, loc)
        where = f"line {line}: " if line else ""
        return [f"{where}{'.'.join(str(p) for p in loc)}: must be a finite number, not {value}"]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _non_finite(item, (*loc, key), root)]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _non_finite(item, (*loc, i), root)]
    return []


def parse_policy(text: str, source: str = "policy", *, stored: bool = False) -> PolicyFile:
    """Parse and validate; raise PolicyError naming line and field for every problem.

    `stored=True` reads a version applied earlier: the rules added since for new files (no empty document, no
    infinite numbers) are skipped, so a policy in force always reads back and the loops keep enforcing it."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) if stored else load_strict(text)  # a repeated key: refused in new files
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise PolicyError(source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if data is None:
        if not stored:
            raise PolicyError(source, [EMPTY_FILE])
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(source, ["line 1: the policy file must be a mapping with budgets, caps and idle"])
    try:
        policy = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, [_problem(err, root) for err in exc.errors()]) from None
    problems = [] if stored else _non_finite(policy.model_dump(), (), root)
    if problems:
        raise PolicyError(source, problems)
    return policy


def duration_text(seconds: float) -> str:
    return str(timedelta(seconds=seconds))
