"""Settings from SPOTWISE_* environment variables and an optional YAML file.

Precedence (highest first): constructor arguments, environment, the YAML file named by
SPOTWISE_CONFIG (or $SPOTWISE_HOME/config.yaml when it exists), defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


def default_home() -> Path:
    return Path(os.environ.get("SPOTWISE_HOME") or Path.home() / ".spotwise")


def _yaml_path() -> Path | None:
    explicit = os.environ.get("SPOTWISE_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = default_home() / "config.yaml"
    return candidate if candidate.exists() else None


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
    port: int = 8470
    public_url: str = ""  # how agents reach the daemon; default http://host:port
    url: str = ""  # client side: where the CLI finds the daemon; default http://127.0.0.1:port
    token: str = ""  # client side: bearer token; default the admin token file in home
    admin_token: str = ""  # daemon side: a fixed admin token (deployments); default generated to a file
    providers: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"local": dict[str, Any]()})
    reconcile_interval_seconds: float = 2.0
    heartbeat_interval_seconds: float = 2.0
    heartbeat_timeout_seconds: float = 60.0
    provisioning_timeout_seconds: float = 600.0
    max_request_bytes: int = 1_000_000
    api_rate_limit_per_second: float = 500.0  # per bearer token (issue 12); 0 turns the limit off
    api_rate_limit_burst: float = 1000.0
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    # price catalog and placement (issue 4)
    spot_price_refresh_seconds: float = Field(default=600.0, gt=0)  # price-only refresh of the live spot pools
    instance_type_refresh_seconds: float = Field(default=86400.0, gt=0)  # full listing: types, zones and their prices
    # Deprecated alias of spot_price_refresh_seconds (before the split); used only when that one is not set.
    price_refresh_interval_seconds: float | None = Field(default=None, gt=0)
    price_stale_after_seconds: float = 1800.0  # live data older than this is shown as stale
    price_alert_after_failures: int = 3  # consecutive failed refreshes before an error-level alert
    placement_max_launch_attempts: int = 3  # offers tried per job in one placement pass
    capacity_block_seconds: float = 180.0
    quota_block_seconds: float = 1800.0
    auth_block_seconds: float = 3600.0
    spot_auto_fallback_seconds: float = 900.0  # `spot: auto` waits this long for spot, then takes on-demand
    preemption_window_seconds: float = 21600.0  # recent preemptions in a pool raise its expected cost
    interruption_lost_hours: float = 0.5  # paid time one interruption wastes (changeover + lost work)
    carbon_prices: dict[str, float] = Field(default_factory=dict)  # team -> USD per kg CO2e in placement (issue 14)
    # recovery (issue 5)
    checkpoint_store: str = ""  # default store URL for jobs without checkpoint.store; "" = file://HOME/checkpoints
    deadline_policy: str = "spotwise"  # policies/deadline.py; Spotwise's own policy beats Uniform Progress (README)
    changeover_seconds: float = 120.0  # launch + setup + lost work a new instance costs (the policy's d)
    retry_backoff_seconds: float = 5.0  # first delay after a failure; doubles per consecutive failure
    reclaimed_pool_block_seconds: float = 600.0  # a pool that just preempted us is avoided this long
    # costs, policies and alerts (issue 6)
    ledger_interval_seconds: float = 10.0
    budget_interval_seconds: float = 30.0  # overspend bound: running $/h x (this + grace + downtime), README
    idle_interval_seconds: float = 30.0
    stop_grace_seconds: float = 120.0  # a budget or cap stop waits this long for the job to checkpoint
    alert_interval_seconds: float = 2.0
    alert_sinks: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"log": {"type": "log"}})
    alert_routes: list[dict[str, Any]] = Field(default_factory=list)  # empty: every sink gets every alert
    alert_max_tries: int = 12
    alert_base_backoff_seconds: float = 2.0
    # a claimed delivery is another dispatcher's to retry after this: what a delivery cut off by a crash waits
    alert_lease_seconds: float = Field(default=60.0, gt=0)
    # code, images, agent bootstrap and secrets (issue 13)
    workdir_store: str = "daemon"  # where `spotwise submit` uploads workdirs: "daemon" (under HOME) or a bucket URL
    workdir_max_bytes: int = 200 * 2**20  # packed (gzip) size limit for a workdir
    agent_wheel: str = ""  # a prebuilt spotwise wheel to serve to instances; "" = build our own on first request
    agent_pip_args: str = ""  # extra pip arguments for the start-up script (e.g. --index-url of a private mirror)
    agent_max_restarts: int = 5  # the start-up script's supervisor restarts a crashed agent this often

    _refresh_overrides: dict[str, dict[str, float]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _price_refresh(self) -> Settings:
        """Issue 4: the deprecated single interval still works; per-provider intervals leave the sections."""
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

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in ("auto", "json", "console"):
            raise ValueError("log_format must be one of: auto, json, console")
        return value

    @field_validator("agent_pip_args")
    @classmethod
    def _pip_args_parse(cls, value: str) -> str:  # issue 13: split with shlex into the start-up script
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
        path = _yaml_path()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
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
