"""The local provider's instance identity proof (providers/identity.py describes the hooks): its instance id.

The agent sends SPOTWISE_INSTANCE_ID (or the id in SPOTWISE_IDENTITY=local:ID); the daemon checks it is the
recorded instance. Nothing signs it -- the instance is a process on the daemon's machine -- but it runs the same
exchange as every cloud, so every test of the bootstrap exchange exercises it.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from providers.identity import Expected, same

ACCOUNT_KEY = ""
PROOF_NAMES_ZONE = False


def fetch_proof(url: str, *, audience: str, claim: str, timeout: float = 5.0) -> dict[str, Any]:
    return {"kind": "local", "instance_id": url or os.environ.get("SPOTWISE_INSTANCE_ID", "")}


def check_fields(proof: dict[str, Any], want: Expected, *, audience: str, claim: str, now: datetime) -> list[str]:
    return [same("instance_id", proof.get("instance_id"), want.uid or want.instance_id)]
