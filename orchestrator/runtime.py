"""The daemon's wiring: settings, database, providers and installation facts, built once at start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.agentkey import AgentKeyMismatch, load_agent_key
from orchestrator.config import Settings
from orchestrator.homeperms import prepare_home
from orchestrator.identity import SignatureVerifier
from orchestrator.identity.configure import IdentityConfigError, build_verifiers
from orchestrator.logs import get_logger
from orchestrator.placement_latency import PlacementLatency
from orchestrator.store import meta
from orchestrator.store.db import make_engine, make_session_factory, migrate, transaction
from providers.base import Provider
from providers.errors import ProviderError
from providers.registry import available_names, create_provider

log = get_logger(__name__)


class StartupError(RuntimeError):
    """The daemon must not start with this configuration; the message says what is wrong and how to fix it."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cluster_id: str
    agent_secret: bytes
    providers: dict[str, Provider] = field(default_factory=dict)
    provider_errors: dict[str, str] = field(default_factory=dict)
    leases: Any = None  # orchestrator.leases.Leases while serving: loop leadership for /metrics
    placement_latency: PlacementLatency = field(default_factory=PlacementLatency)  # observed by the launcher
    # provider -> the cloud-signature check of the bootstrap exchange (orchestrator/identity/configure.py)
    identity_verifiers: dict[str, SignatureVerifier] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()


def _cluster_id(session: Session, configured: str) -> str:
    value = meta.get_or_create(session, "cluster_id", configured or "sw-" + secrets.token_hex(4))
    if configured and configured != value:
        raise SystemExit(
            f"this database belongs to cluster {value!r} but SPOTWISE_CLUSTER_ID is {configured!r}; "
            "use the matching database or unset SPOTWISE_CLUSTER_ID"
        )
    return value


def check_provider_names(names: list[str]) -> None:
    """An unknown provider name is a typo (or a plugin not installed), never a section to skip: the daemon ran
    with no providers at all after one `provider_unavailable` log line."""
    known = available_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise StartupError(f"unknown provider(s) {', '.join(map(repr, unknown))} in the providers setting; "
                           f"known providers: {', '.join(known)} (plugins register under the "
                           "'spotwise.providers' entry point)")


def build_providers(settings: Settings) -> tuple[dict[str, Provider], dict[str, str]]:
    """Create each configured provider; one whose section or SDK is bad is reported, not fatal (an unknown name is
    refused earlier, by build_runtime's check_provider_names)."""
    built: dict[str, Provider] = {}
    errors: dict[str, str] = {}
    for name, options in settings.providers.items():
        try:
            built[name] = create_provider(name, dict(options or {}), settings.home)
        except (ProviderError, ValueError, TypeError) as exc:  # a bad section disables its provider only
            errors[name] = str(exc)
            log.error("provider_unavailable", provider=name, error=str(exc))
    return built, errors


def build_runtime(settings: Settings, *, with_providers: bool = True, **overrides: Any) -> Runtime:
    if with_providers:
        check_provider_names(list(settings.providers))  # before the database: a typo should fail fast
    for problem in prepare_home(settings.home):  # private to the daemon's user (orchestrator/homeperms.py)
        log.warning("home_permissions", problem=problem)
    try:
        verifiers = build_verifiers(settings)  # before the database too: a bad certificate path fails fast
    except IdentityConfigError as exc:
        raise StartupError(str(exc)) from None
    engine = make_engine(settings.effective_database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        cluster_id = _cluster_id(session, settings.cluster_id)
        try:
            secret = load_agent_key(session, settings.home)  # a file, never a database row
        except AgentKeyMismatch as exc:
            raise StartupError(str(exc)) from None
    providers, errors = build_providers(settings) if with_providers else ({}, {})
    return Runtime(settings=settings, engine=engine, sessions=sessions, cluster_id=cluster_id,
                   agent_secret=secret, providers=providers, provider_errors=errors,
                   identity_verifiers=verifiers, **overrides)
