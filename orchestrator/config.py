"""Settings from SPOTWISE_* environment variables and an optional YAML file.

Precedence (highest first): constructor arguments, environment, the YAML file named by
SPOTWISE_CONFIG (or $SPOTWISE_HOME/config.yaml when it exists), defaults.
"""

from __future__ import annotations

import re
from importlib.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from orchestrator.configfile import ConfigError, config_path, default_home, read_config_file
from orchestrator.jobs.models import store_url_problem

# Every interval and timeout: zero or less made a loop spin (reconcile at -5 s took 95% of a CPU).
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# Durations, rates and hours where 0 means "none" (no grace, no back-off, no limit); negative is a mistake.
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class _ConfigFile(YamlConfigSettingsSource):
    """The YAML source, with errors that name the file (and line) instead of a yaml/pydantic traceback."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        return read_config_file(file_path)


def _env_error(exc: SettingsError) -> ConfigError:
    """pydantic-settings says 'error parsing value for field "providers" from source ...': name the variable."""
    match = re.search(r'field "([^"]+)"', str(exc))
    name = f"SPOTWISE_{match.group(1).upper()}" if match else "a SPOTWISE_* variable"
    cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
    return ConfigError(f"{name} is not valid JSON{cause}" if match else f"{name}: {exc}{cause}")


PositiveRate = Annotated[float, Field(gt=0, allow_inf_nan=False)]
UsdPerGb = Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]


class TransferSettings(BaseModel):
    """Data gravity in placement (policies/egress.py, policies/totalcost.py): overrides of the list egress prices
    (negotiated rates), of the default throughputs, bucket regions no storage API answers for, and how many
    measured transfers on a path replace its default rate."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True  # False: rank by expected $/h alone, as before
    egress_usd_per_gb: dict[str, dict[Literal["same_region", "cross_region", "internet"], UsdPerGb]] = Field(
        default_factory=dict)  # cloud -> kind -> USD/GB
    throughput_mb_s: dict[Literal["same_region", "cross_region", "internet"], PositiveRate] = Field(
        default_factory=dict)
    instance_mb_s: dict[str, PositiveRate] = Field(default_factory=dict)  # instance type -> its network MB/s
    # scheme://bucket -> region, for stores whose region no API is asked about (gs://, az://) or to skip the lookup
    bucket_regions: dict[str, str] = Field(default_factory=dict)
    learn_after_samples: Annotated[int, Field(ge=1, le=10_000)] = 5
    startup_seconds: NonNegative = 0.0  # start-up paid on every offer; 0: the changeover_seconds setting


# Keys a provider section may carry to override the price refresh intervals for that provider only;
# taken out before the section reaches the adapter (whose own config parsing is strict).
REFRESH_KEYS = ("spot_price_refresh_seconds", "instance_type_refresh_seconds")


class Settings(BaseSettings):
    """Daemon and client configuration."""

    model_config = SettingsConfigDict(env_prefix="SPOTWISE_", extra="forbid", env_nested_delimiter="__")

    home: Path = Field(default_factory=default_home)
    database_url: str = ""  # default: sqlite file in home
    cluster_id: str = ""  # default: generated once and kept in the database
    host: str = "127.0.0.1"
    port: int = 8470  # 1-65535 (_valid_port)
    public_url: str = ""  # how agents reach the daemon; default http://host:port
    # With a cloud provider, serve refuses a loopback or plain-http public_url (orchestrator/publicurl.py) unless:
    allow_insecure_public_url: bool = False  # plain http:// to another host: a private network or tunnel
    allow_loopback_public_url: bool = False  # clouds simulated on this machine only (moto, the tests' fakes)
    # at start, check the providers' config and then (in the background, logged) that a launch would work
    preflight_at_start: bool = True
    url: str = ""  # client side: where the CLI finds the daemon; default http://127.0.0.1:port
    token: str = ""  # client side: bearer token; default the admin token file in home
    admin_token: str = ""  # daemon side: a fixed admin token (deployments); default generated to a file
    providers: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"local": dict[str, Any]()})
    reconcile_interval_seconds: Seconds = 2.0
    heartbeat_interval_seconds: Seconds = 2.0
    heartbeat_timeout_seconds: Seconds = 60.0
    provisioning_timeout_seconds: Seconds = 600.0
    max_request_bytes: Count = 1_000_000
    # where /docs loads Swagger UI's files from (a mirror for air-gapped sites); "" turns /docs off (api/docs.py)
    docs_assets_url: str = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"
    agent_token_grace_seconds: NonNegative = 120.0  # an agent token outlives its attempt this long
    # The start-up script's bootstrap token: exchanged once for the agent token within this long of the instance's
    # launch (api/agent_exchange.py); with require_signature, only when the cloud's signature over the identity
    # proof was verified (orchestrator/identity/configure.py; the daemon refuses to start without the keys)
    bootstrap_token_ttl_seconds: Seconds = 900.0
    bootstrap_require_signature: bool = False
    api_rate_limit_per_second: NonNegative = 500.0  # per bearer token; 0 turns the limit off
    api_rate_limit_burst: NonNegative = 1000.0
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    # price catalog and placement
    spot_price_refresh_seconds: float = Field(default=600.0, gt=0)  # price-only refresh of the live spot pools
    instance_type_refresh_seconds: float = Field(default=86400.0, gt=0)  # full listing: types, zones and their prices
    # Deprecated alias of spot_price_refresh_seconds (before the split); used only when that one is not set.
    price_refresh_interval_seconds: float | None = Field(default=None, gt=0)
    price_stale_after_seconds: Seconds = 1800.0  # live data older than this is shown as stale
    price_alert_after_failures: Count = 3  # consecutive failed refreshes before an error-level alert
    placement_max_launch_attempts: Count = 3  # offers tried per job in one placement pass
    capacity_block_seconds: NonNegative = 180.0
    quota_block_seconds: NonNegative = 1800.0
    auth_block_seconds: NonNegative = 3600.0
    spot_auto_fallback_seconds: NonNegative = 900.0  # `spot: auto` waits this long for spot, then takes on-demand
    preemption_window_seconds: Seconds = 21600.0  # recent preemptions in a pool raise its expected cost
    interruption_lost_hours: NonNegative = 0.5  # paid time one interruption wastes (changeover + lost work)
    carbon_prices: dict[str, float] = Field(default_factory=dict)  # team -> USD per kg CO2e in placement
    transfer: TransferSettings = Field(default_factory=TransferSettings)  # egress and transfer time in placement
    # recovery
    checkpoint_store: str = ""  # default store URL for jobs without checkpoint.store; "" = file://HOME/checkpoints
    deadline_policy: str = "spotwise"  # policies/deadline.py; Spotwise's own policy beats Uniform Progress (README)
    changeover_seconds: NonNegative = 120.0  # launch + setup + lost work a new instance costs (the policy's d)
    retry_backoff_seconds: NonNegative = 5.0  # first delay after a failure; doubles per consecutive failure
    reclaimed_pool_block_seconds: NonNegative = 600.0  # a pool that just preempted us is avoided this long
    # costs, policies and alerts
    ledger_interval_seconds: Seconds = 10.0
    budget_interval_seconds: Seconds = 30.0  # overspend bound: running $/h x (this + grace + downtime), README
    idle_interval_seconds: Seconds = 30.0
    stop_grace_seconds: NonNegative = 120.0  # a budget or cap stop waits this long for the job to checkpoint
    alert_interval_seconds: Seconds = 2.0
    alert_sinks: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"log": {"type": "log"}})
    alert_routes: list[dict[str, Any]] = Field(default_factory=list)  # empty: every sink gets every alert
    alert_max_tries: Count = 12
    alert_base_backoff_seconds: NonNegative = 2.0
    # a claimed delivery is another dispatcher's to retry after this: what a delivery cut off by a crash waits
    alert_lease_seconds: float = Field(default=60.0, gt=0)
    # code, images, agent bootstrap and secrets
    workdir_store: str = "daemon"  # where `spotwise submit` uploads workdirs: "daemon" (under HOME) or a bucket URL
    workdir_max_bytes: Count = 200 * 2**20  # packed (gzip) size limit for a workdir
    agent_wheel: str = ""  # a prebuilt spotwise wheel to serve to instances; "" = build our own on first request
    agent_pip_args: str = ""  # extra pip arguments for the start-up script (e.g. --index-url of a private mirror)
    agent_max_restarts: Annotated[int, Field(ge=0)] = 5  # the start-up script's supervisor restarts a crashed agent

    _refresh_overrides: dict[str, dict[str, float]] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        """As BaseSettings, but a variable that is not valid JSON (SPOTWISE_PROVIDERS='{bad') is a ConfigError
        naming the variable, not pydantic-settings' SettingsError."""
        try:
            super().__init__(**values)
        except SettingsError as exc:
            raise _env_error(exc) from None

    @field_validator("port")
    @classmethod
    def _valid_port(cls, value: int) -> int:
        """uvicorn would bind 99999 as 34463 (mod 65536) yet advertise :99999 to agents; -1 failed in getaddrinfo."""
        if not 1 <= value <= 65535:
            raise ValueError(f"must be a TCP port from 1 to 65535, not {value}")
        return value

    @model_validator(mode="after")
    def _price_refresh(self) -> Settings:
        """Price refresh: the deprecated single interval still works; per-provider intervals leave the sections."""
        old = self.price_refresh_interval_seconds
        if old is not None and "spot_price_refresh_seconds" not in self.model_fields_set:
            self.spot_price_refresh_seconds = old
        for name, section in self.providers.items():
            if not isinstance(section, dict):
                continue
            for key in REFRESH_KEYS:
                if key not in section:
                    continue
                value = section.pop(key)
                try:
                    seconds = float(value)
                except (TypeError, ValueError):
                    seconds = 0.0
                if not seconds > 0:
                    raise ValueError(f"providers.{name}.{key} must be a positive number of seconds, not {value!r}")
                self._refresh_overrides.setdefault(name, {})[key] = seconds
        return self

    def refresh_intervals(self, provider: str) -> tuple[float, float]:
        """(spot price, instance type) refresh intervals in seconds for one provider."""
        own = self._refresh_overrides.get(provider, {})
        return (own.get("spot_price_refresh_seconds", self.spot_price_refresh_seconds),
                own.get("instance_type_refresh_seconds", self.instance_type_refresh_seconds))

    @field_validator("checkpoint_store")
    @classmethod
    def _usable_store(cls, value: str) -> str:
        """The default store of every job without its own: a typo surfaced only when the first agent failed to
        upload a checkpoint, after hours of training. The same rule as a spec's checkpoint.store."""
        problem = store_url_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        """'verbose' or 'warn' fell back to info without a word (logging.getattr default)."""
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of: {', '.join(LOG_LEVELS)}, not {value!r}")
        return value.lower()

    @field_validator("carbon_prices")
    @classmethod
    def _carbon_prices_are_costs(cls, value: dict[str, float]) -> dict[str, float]:
        """A negative (or infinite) price per kg CO2e would make placement prefer the dirtiest grid."""
        for team, price in value.items():
            if not (price >= 0 and price != float("inf")):
                raise ValueError(f"carbon_prices.{team}: must be a finite USD amount >= 0 per kg CO2e, not {price}")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in ("auto", "json", "console"):
            raise ValueError("log_format must be one of: auto, json, console")
        return value

    @field_validator("agent_pip_args")
    @classmethod
    def _pip_args_parse(cls, value: str) -> str:  # split with shlex into the start-up script
        import shlex

        try:
            shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"agent_pip_args is not valid shell words: {exc}") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path is not None:
            sources.append(_ConfigFile(settings_cls, yaml_file=path))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'spotwise.db'}"

    @property
    def effective_public_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return self.public_url or f"http://{host}:{self.port}"

    @property
    def effective_url(self) -> str:
        return self.url or f"http://127.0.0.1:{self.port}"

    @property
    def admin_token_file(self) -> Path:
        return self.home / "admin-token"
