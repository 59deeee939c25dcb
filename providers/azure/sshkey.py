"""The SSH public key every Azure Linux VM must carry.

The adapter disables password log-in (an agent needs none, and a password in a request body is one
more secret to leak), and ARM then refuses a VM without a public key (`InvalidParameter`). So a key
is settled when the config is read, never discovered at the first launch:
- `ssh_public_key` holds the key itself (`ssh-rsa AAAA...` / `ssh-ed25519 AAAA...`), or
- a path to a `.pub` file (`~` expanded, relative paths under the daemon's home), or
- nothing: the daemon generates a key pair once under its home (`azure-ssh/id_rsa`, mode 0600) and
  logs where, so an admin can still reach a VM to debug it. Generating is friendlier than refusing
  to start: the key is only a door for a human, the agent never uses it.
Azure accepts RSA (at least 2048 bits) and Ed25519 keys for Linux VMs, not ECDSA, so other key
types are refused here with the reason rather than by ARM at launch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ACCEPTED_TYPES = ("ssh-rsa", "ssh-ed25519")
KEY_DIR = "azure-ssh"
KEY_FILE = "id_rsa"


class SshKeyError(ValueError):
    """The configured key cannot be used; the message names the setting and the fix."""


def _check_key(text: str, where: str) -> str:
    fields = text.strip().split()
    if len(fields) < 2:
        raise SshKeyError(f"azure config: ssh_public_key {where} is not an OpenSSH public key "
                          "(expected 'ssh-ed25519 AAAA...' or 'ssh-rsa AAAA...')")
    if fields[0] not in ACCEPTED_TYPES:
        raise SshKeyError(f"azure config: ssh_public_key {where} is a {fields[0]} key; Azure Linux VMs "
                          f"accept only {' or '.join(ACCEPTED_TYPES)} keys")
    return " ".join(fields)


def check_public_key(text: str) -> str:
    """`text` as ARM will take it, or SshKeyError naming what is wrong (the launch preflight's ssh key row)."""
    return _check_key(text, "value")


def resolve_public_key(value: str, home: Path | None) -> str:
    """The public key text to send to ARM, from a key, a path, or a key generated under `home`."""
    value = (value or "").strip()
    if value.split(" ", 1)[0] in ACCEPTED_TYPES or value.startswith(("ecdsa-", "sk-")):
        return _check_key(value, "value")
    if value:
        path = Path(value).expanduser()
        if not path.is_absolute() and home is not None:
            path = home / path
        try:
            text = path.read_text()
        except OSError as exc:
            raise SshKeyError(f"azure config: ssh_public_key {value!r} is neither a public key nor a "
                              f"readable file ({exc.strerror or exc})") from None
        return _check_key(text, f"file {path}")
    if home is None:
        raise SshKeyError("azure config: set ssh_public_key (a public key or the path to a .pub file): "
                          "Azure Linux VMs need one because password log-in is disabled")
    return generated_key(home)


def generated_key(home: Path) -> str:
    """The daemon's own key pair under `home`, made on first use (private key 0600)."""
    private = home / KEY_DIR / KEY_FILE
    public = private.with_suffix(".pub")
    if public.exists() and private.exists():
        return _check_key(public.read_text(), f"file {public}")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(private, 0o600)  # an existing file keeps its mode through O_CREAT
    openssh = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    text = f"{openssh.decode()} spotwise-daemon"
    public.write_text(text + "\n")
    log.warning("azure: no ssh_public_key configured; generated a key pair for the VMs' admin user at %s "
                "(public key %s); set ssh_public_key to use your own", private, public)
    return text
