"""The SSH key every Linux VM needs (password log-in is disabled): ARM refuses a VM without one, so the
config settles it at start (a key, a path, or one generated under the daemon's home)."""

from __future__ import annotations

import dataclasses
import logging
import stat
from pathlib import Path
from typing import Any

import pytest

from providers.azure import AzureConfig, AzureProvider
from providers.errors import InvalidRequest
from tests.providers.azure import fake_arm_data as data
from tests.providers.azure.conftest import StaticCredential, make_config
from tests.providers.azure.fake_arm import FakeArm
from tests.providers.azure.helpers import offer, spec

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests admin@example"


def _raw(arm: FakeArm, **extra: Any) -> dict[str, Any]:
    return {
        "subscription_id": data.SUBSCRIPTION, "resource_group": data.RESOURCE_GROUP, "locations": ["eastus"],
        "subnet_id": data.SUBNET_ID, "base_url": arm.url, "prices_url": f"{arm.url}/api/retail/prices",
        "polling_interval": 0, **extra,
    }


def _sent_key(arm: FakeArm, vm: str) -> str:
    keys = arm.state.vms[vm]["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]
    return str(keys[0]["keyData"])


def test_arm_refuses_a_vm_without_a_key_and_nothing_is_left(arm: FakeArm, sleeps: list[float]) -> None:
    """The fake is faithful: password log-in disabled and no key is ARM's InvalidParameter."""
    config = dataclasses.replace(make_config(arm), ssh_public_key="")
    provider = AzureProvider(config, credential=StaticCredential(), sleep=sleeps.append)
    with pytest.raises(InvalidRequest) as caught:
        provider.launch(spec(offer(provider)))
    assert caught.value.raw_code == "InvalidParameter"
    assert "must be enabled in Linux profile" in str(caught.value)
    assert arm.state.vms == {} and arm.state.nics == {}


def test_no_key_configured_generates_one_under_home_and_the_launch_works(
    arm: FakeArm, tmp_path: Path, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="providers.azure.sshkey"):
        config = AzureConfig.from_dict(_raw(arm), home=tmp_path)
    private, public = tmp_path / "azure-ssh" / "id_rsa", tmp_path / "azure-ssh" / "id_rsa.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert config.ssh_public_key == public.read_text().strip() and config.ssh_public_key.startswith("ssh-rsa ")
    assert str(private) in caplog.text  # the log says where the key is
    provider = AzureProvider(config, credential=StaticCredential(), sleep=sleeps.append)
    info = provider.launch(spec(offer(provider)))
    assert _sent_key(arm, info.id) == config.ssh_public_key
    again = AzureConfig.from_dict(_raw(arm), home=tmp_path)  # a restart reuses the key, never replaces it
    assert again.ssh_public_key == config.ssh_public_key


def test_key_from_a_path_relative_to_home_or_with_tilde(arm: FakeArm, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "admin.pub").write_text(KEY + "\n")
    assert AzureConfig.from_dict(_raw(arm, ssh_public_key="admin.pub"), home=tmp_path).ssh_public_key == KEY
    monkeypatch.setenv("HOME", str(tmp_path))
    assert AzureConfig.from_dict(_raw(arm, ssh_public_key="~/admin.pub")).ssh_public_key == KEY


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("missing.pub", "ssh_public_key 'missing.pub' is neither a public key nor a readable file"),
        ("ecdsa-sha2-nistp256 AAAAE2VjZHNh x@y", "accept only ssh-rsa or ssh-ed25519"),
        ("ssh-rsa", "is not an OpenSSH public key"),
    ],
)
def test_unusable_key_is_refused_at_config_time_naming_the_setting(
    arm: FakeArm, tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match="ssh_public_key") as caught:
        AzureConfig.from_dict(_raw(arm, ssh_public_key=value), home=tmp_path)
    assert message in str(caught.value)


def test_no_key_and_no_home_is_a_config_error(arm: FakeArm) -> None:
    with pytest.raises(ValueError, match="set ssh_public_key"):
        AzureConfig.from_dict(_raw(arm))
