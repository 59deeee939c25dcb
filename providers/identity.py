"""The instance identity proof of the bootstrap exchange, as each cloud declares it: the shared types and the hooks.

Why here and not in the daemon: an identity proof is cloud-specific on both ends -- the agent reads it from the
cloud's metadata server, the daemon checks its fields and the cloud's signature -- so it belongs to the cloud's
package like its notice watcher, and a cloud installed by entry point brings its own. The daemon's generic part
(which provider's check to run, the `bootstrap_require_signature` rule, the exchange itself) stays in
orchestrator/identity and orchestrator/api/agent_exchange.py; docs/security.md has the full account.

A cloud's identity module (`CloudPlugin.identity` names it, e.g. providers/aws/identity.py) defines:

- `fetch_proof(url, *, audience, claim, timeout) -> dict`: run by the agent on the instance: the proof read from
  the metadata server (`url`: another address, from SPOTWISE_IDENTITY=CLOUD:URL; "" for the cloud's own), with
  `"kind"` the cloud's name; httpx errors propagate for the agent to retry;
- `check_fields(proof, want, *, audience, claim, now) -> list[str]`: run by the daemon: the names of the fields
  that matched `want` (see `same`), IdentityRefused naming the one that did not;
- `build_verifier(section, *, home, audience, require_signature) -> SignatureVerifier | None` (optional): the
  check of the cloud's signature, built once at daemon start from the cloud's `providers:` section; None when the
  section configures none (raise `signature_required(...)` instead when `require_signature` is on); ValueError
  naming the setting when the section cannot work;
- `ACCOUNT_KEY`: the key of the cloud's `providers:` section that names the account a proof must belong to ("":
  none), and `PROOF_NAMES_ZONE`: whether the proof names the instance's zone (then it must be the recorded one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

# fn(proof, expected) -> True (signature checked and good); raise IdentityRefused for a bad one.
SignatureVerifier = Callable[[dict[str, Any], "Expected"], bool]


class IdentityRefused(Exception):
    """The proof does not name the recorded instance (or is malformed); the message says which field."""


class SignatureUnavailable(Exception):
    """The signature cannot be checked right now (the cloud's keys are unreachable): try again, not a forgery."""


@dataclass(frozen=True)
class Expected:
    """What the daemon recorded at launch for the instance whose agent is exchanging its token."""

    provider: str
    instance_id: str  # the daemon's id (GCP: zone/name; Azure: the VM name)
    uid: str  # the cloud's own id, as the identity document names it ("" if the launch did not return one)
    region: str
    zone: str
    account: str = ""  # AWS account id / GCP project / Azure subscription, where the configuration names it


def same(what: str, got: Any, want: str) -> str:
    """`what` when the proof's value `got` is the recorded `want`; "" when nothing was recorded to compare;
    IdentityRefused otherwise."""
    if not want:
        return ""
    if str(got) != want:
        raise IdentityRefused(f"the identity proof names {what} {got!r}, but the attempt's instance has {want!r}")
    return what


def signature_required(provider: str, setting: str, doc: str) -> ValueError:
    """The error of a cloud whose signature check is required (`bootstrap_require_signature`) but not configured."""
    return ValueError(
        f"bootstrap_require_signature is true but providers.{provider}.{setting} is not set, so no {provider} "
        f"agent could prove its identity; configure it ({doc}) or set bootstrap_require_signature: false")


def load_pem(value: Any, setting: str, home: Path | None = None) -> list[x509.Certificate]:
    """PEM text, or a path to a PEM file (one or more certificates; relative: to the daemon's home, as other
    paths in its configuration); ValueError names the setting."""
    from cryptography import x509

    text = str(value or "")
    if "-----BEGIN" not in text:
        path = Path(text).expanduser()
        try:
            text = (home / path if home is not None and not path.is_absolute() else path).read_text()
        except OSError as exc:
            raise ValueError(f"{setting}: cannot read the PEM file {value!r}: {exc.strerror}") from None
    try:
        return x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise ValueError(f"{setting}: not a PEM certificate ({exc})") from None
