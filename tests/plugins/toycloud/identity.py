"""toycloud's instance identity proof (providers/identity.py lists the hooks a cloud's identity module defines).

Its "metadata server" is the agent's environment: the proof names the instance id the provider gave the agent, with
the toy zone, and the daemon checks both against its record -- so the bootstrap exchange of a toycloud instance runs
the cloud's own check, not the local provider's."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from providers.identity import Expected, IdentityRefused, same

ACCOUNT_KEY = "account"  # providers.toycloud.account, when configured, must be the proof's
PROOF_NAMES_ZONE = False


def fetch_proof(url: str, *, audience: str, claim: str, timeout: float = 5.0) -> dict[str, Any]:
    return {"kind": "toycloud", "instance": url or os.environ.get("SPOTWISE_INSTANCE_ID", ""),
            "account": os.environ.get("TOYCLOUD_ACCOUNT", "")}


def check_fields(proof: dict[str, Any], want: Expected, *, audience: str, claim: str, now: datetime) -> list[str]:
    if not isinstance(proof.get("instance"), str):
        raise IdentityRefused("a toycloud proof needs `instance`: the instance id")
    return [same("toy_instance", proof["instance"], want.uid or want.instance_id),
            same("toy_account", proof.get("account"), want.account)]
