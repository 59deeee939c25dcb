"""Names for the API's answers, as the client returns them: the JSON as plain dicts.

Why dicts and not classes: the answers are what `spotwise ... -o json` prints and what the API documents
(docs/client.md, /openapi.json); plain dicts print, serialise and compare without conversion, and a field the
daemon adds later reaches the caller without a client upgrade. The aliases say which answer a call returns.
"""

from __future__ import annotations

from typing import Any

#: A job: id, name, team, project, state, priority, accelerators, submitted_at, started_at, finished_at,
#: attempts, restarts, exit_code, reason, cost_usd, runtime_seconds; from `Client.job` also spec,
#: attempt_list (each attempt: number, state, provider, region, zone, instance_type, spot, price_per_hour,
#: instance_id, resumed_from, end_reason, ...), energy and budget_wait.
Job = dict[str, Any]
#: {"items": [Job, ...], "next_before": int | None}
JobPage = dict[str, Any]
#: {"at", "kind", "from", "to", "attempt", "reason"}
JobEvent = dict[str, Any]
#: {"attempt", "stream" ("stdout" or "stderr"), "data", "at"}
LogChunk = dict[str, Any]
#: {"items": [LogChunk, ...], "cursor": int, "final": bool}
LogPage = dict[str, Any]
#: {"by", "items": [{<by>, "cost_usd", "instance_hours", ...}], "total_usd"} (+ energy totals with energy=True)
CostReport = dict[str, Any]
#: {"items": [{"cloud", "region", "zone", "instance_type", "gpu_model", "gpu_count", "spot_price",
#: "on_demand_price", "price_per_hour", "expected_cost", "price_age_seconds", ...}], "offers_cached": int}
OfferPage = dict[str, Any]
#: {"name", "team", "accelerators", "note", "offers": [{"cloud", "zone", "instance_type", "spot",
#: "price_per_hour", "expected_cost", "reason"}]}
DryRun = dict[str, Any]
