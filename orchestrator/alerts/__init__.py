"""Alerts that are never lost: an outbox written with the change, a dispatcher, and sinks.

`emit` adds a row to the outbox inside the caller's transaction, so an alert exists if and only
if the change that caused it committed. The dispatcher (`dispatcher.py`) routes each alert to
sinks and delivers it with retries, exponential backoff, deduplication and a per-sink rate limit.
`alerts` imports only `store` and the top-level wiring (logs, loop containment, the public URL check); the loops
(`spending`, `catalog`, `provisioning`), the API, the CLI's demo and the daemon import it to emit and dispatch.
"""

from orchestrator.alerts.outbox import KINDS, SEVERITIES, emit

__all__ = ["KINDS", "SEVERITIES", "emit"]
