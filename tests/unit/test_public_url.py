"""Whether agents on cloud instances can reach the daemon at `public_url`, and without sending their token in the
clear: the start-up rule of `spotwise serve` (orchestrator/publicurl.py)."""

from __future__ import annotations

import pytest

from orchestrator.config import Settings
from orchestrator.publicurl import cloud_providers, public_url_problem

CLOUD = {"gcp": {"project": "p"}}


def problem(url: str, providers: dict[str, dict[str, str]] | None = None, *, insecure: bool = False,
            loopback: bool = False) -> str | None:
    return public_url_problem(url, CLOUD if providers is None else providers, allow_insecure=insecure,
                              allow_loopback=loopback)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8470", "http://127.3.4.5", "https://localhost:8470",
                                 "http://api.localhost", "http://0.0.0.0:8470", "http://[::1]:8470", "http://[::]/"])
def test_loopback_or_unspecified_is_refused_with_a_cloud(url: str) -> None:
    found = problem(url)
    assert found is not None and "cannot reach this machine" in found and "SPOTWISE_PUBLIC_URL" in found


def test_the_default_public_url_is_refused_with_a_cloud() -> None:
    settings = Settings(providers={"aws": {}})
    assert settings.effective_public_url == "http://127.0.0.1:8470"
    assert problem(settings.effective_public_url, settings.providers)


def test_plain_http_to_another_host_needs_the_explicit_opt_in() -> None:
    found = problem("http://10.0.0.5:8470")
    assert found is not None and "allow_insecure_public_url" in found and "unencrypted" in found
    assert problem("http://10.0.0.5:8470", insecure=True) is None
    assert problem("https://spotwise.example.com") is None
    assert problem("https://10.0.0.5:8443/spotwise") is None


def test_loopback_only_with_its_own_opt_in() -> None:
    assert problem("http://127.0.0.1:8470", insecure=True) is not None  # the http opt-in does not cover loopback
    assert problem("http://127.0.0.1:8470", loopback=True) is None


@pytest.mark.parametrize("url", ["ftp://host/x", "spotwise.example.com", "https://", "http://host:notaport"])
def test_a_url_that_is_not_http_is_named(url: str) -> None:
    found = problem(url)
    assert found is not None and repr(url) in found


def test_local_providers_need_nothing() -> None:
    no_cloud: list[dict[str, dict[str, str]]] = [{"local": {}}, {}, {"faulty": {"wraps": "local"}}, {"faulty": {}}]
    for providers in no_cloud:
        assert problem("http://127.0.0.1:8470", providers) is None
    assert cloud_providers({"local": {}, "faulty": {"wraps": "azure"}, "aws": {}}) == ["faulty", "aws"]
    assert problem("http://127.0.0.1:8470", {"faulty": {"wraps": "aws"}}) is not None


def test_the_opt_ins_are_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOTWISE_ALLOW_INSECURE_PUBLIC_URL", "true")
    monkeypatch.setenv("SPOTWISE_ALLOW_LOOPBACK_PUBLIC_URL", "1")
    settings = Settings()
    assert settings.allow_insecure_public_url and settings.allow_loopback_public_url
    assert not Settings.model_fields["allow_insecure_public_url"].default
    assert not Settings.model_fields["allow_loopback_public_url"].default
