"""How the agent gets its agent (session) token: by exchanging the start-up script's once-only bootstrap token.

The script hands the agent SPOTWISE_BOOTSTRAP_TOKEN; the agent proves which instance it runs on
(orchestrator/agent/identity.py) and trades both at POST /v1/agent/bootstrap for the agent token, which it then
keeps in memory only (never in argv, never in an environment a job inherits). Before the first exchange it writes
a random claim nonce to a 0600 file: the daemon remembers the claim's hash with the one-use mark, so this agent
(or the supervisor's restart of it, or a retry after a lost answer) can exchange again and get the same token,
while a second exchange by anyone without the claim is refused and alerted on (api/agent_exchange.py).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path

import httpx

from orchestrator.agent.client import DaemonRefused
from orchestrator.agent.identity import identity_proof

SECRET_ENV = ("SPOTWISE_AGENT_TOKEN", "SPOTWISE_BOOTSTRAP_TOKEN")  # never passed on to a job


def read_claim(path: Path) -> str:
    """This instance's claim nonce, made once (0600, exclusive create: two racing agents share one)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    claim = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(claim + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return claim


def exchange(url: str, bootstrap: str, claim: str, identity_source: str, *, give_up_after: float = 900.0,
             log: Callable[[str], None] = lambda _m: None) -> str:
    """The agent token for `bootstrap`; retried (daemon restarting, instance not recorded yet) until the deadline.
    A final 4xx raises DaemonRefused: the token was used by someone else, expired, or the proof was refused."""
    deadline = time.monotonic() + give_up_after
    delay = 0.2
    while True:
        try:
            proof = identity_proof(identity_source, audience=url.rstrip("/"), claim=claim)
            answer = httpx.post(f"{url.rstrip('/')}/v1/agent/bootstrap", timeout=30.0,
                                json={"bootstrap_token": bootstrap, "claim": claim, "identity": proof})
            if answer.status_code == 200:
                return str(answer.json()["agent_token"])
            if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429):
                raise DaemonRefused(answer.status_code, answer.text)
            log(f"bootstrap exchange answered {answer.status_code}; retrying")
        except httpx.HTTPError as exc:
            log(f"bootstrap exchange failed ({type(exc).__name__}: {exc}); retrying")
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"no agent token after {give_up_after:g}s of bootstrap exchanges")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def session_token(env: MutableMapping[str, str], work_root: Path, log: Callable[[str], None]) -> str:
    """The agent token: exchanged for the bootstrap token (SPOTWISE_AGENT_TOKEN, if set, is used as it is: an
    instance started by an older daemon). Both variables are removed from `env`, so no job inherits them."""
    direct = env.pop("SPOTWISE_AGENT_TOKEN", "")
    bootstrap = env.pop("SPOTWISE_BOOTSTRAP_TOKEN", "")
    if direct:
        return direct
    if not bootstrap:
        raise KeyError("SPOTWISE_BOOTSTRAP_TOKEN")
    claim_file = Path(env.get("SPOTWISE_CLAIM_FILE") or work_root.parent / "agent-claim")
    claim_file.parent.mkdir(parents=True, exist_ok=True)
    return exchange(env["SPOTWISE_URL"], bootstrap, read_claim(claim_file), env.get("SPOTWISE_IDENTITY", ""), log=log)
