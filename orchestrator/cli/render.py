"""Rich tables and summaries for the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from policies.money import usd

STATE_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "CANCELLED": "yellow", "RUNNING": "cyan",
               "PREEMPTED": "magenta", "WAITING_CAPACITY": "yellow", "BLOCKED_BUDGET": "red"}


def _state(state: str) -> str:
    style = STATE_STYLE.get(state)
    return f"[{style}]{state}[/]" if style else state


def _short_time(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _next_look(value: str | None) -> str:
    """When a waiting job is placed again: '2026-01-02 10:00:05 (in 42s)', or 'on the next pass'."""
    if not value:
        return "on the next placement pass"
    at = datetime.fromisoformat(value)
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    left = (at - datetime.now(UTC)).total_seconds()
    return f"{_short_time(value)} ({'in ' + _duration(left) if left > 0 else 'due now'})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def jobs_table(console: Console, jobs: list[dict[str, Any]]) -> None:
    table = Table(title=f"{len(jobs)} jobs", title_justify="left")
    for column in ("ID", "NAME", "TEAM", "STATE", "GPUS", "ATTEMPTS", "RUNTIME", "COST $", "SUBMITTED"):
        table.add_column(column, justify="right" if column in ("ATTEMPTS", "COST $") else "left")
    for j in jobs:
        table.add_row(j["id"], j["name"], j["team"], _state(j["state"]), j["accelerators"] or "-",
                      str(j["attempts"]), _duration(j["runtime_seconds"]), usd(j["cost_usd"]),
                      _short_time(j["submitted_at"]))
    console.print(table)


def energy_text(e: dict[str, Any]) -> str:
    """'1.234 kWh (GPU measured, host estimated)': every energy figure says how it was obtained."""
    if e.get("method", "none") == "none":
        return "- (no heartbeat samples yet)"
    gpu = {"measured": "GPU measured", "estimated": "GPU estimated",
           "mixed": f"GPU {_kwh(e['measured_kwh'])} measured, rest estimated"}[e["method"]]
    return f"{_kwh(e['energy_kwh'])} ({gpu}, host estimated)"


def _kwh(kwh: float) -> str:
    return f"{kwh:.3f} kWh" if kwh >= 1 else f"{kwh * 1000:.2f} Wh"  # a short demo job draws a few Wh


def carbon_text(e: dict[str, Any]) -> str:
    if e.get("method", "none") == "none":
        return "-"
    kg = float(e["kg_co2e"])
    return f"{kg:.3f} kg CO2e" if kg >= 1 else f"{kg * 1000:.2f} g CO2e"


def job_summary(console: Console, job: dict[str, Any]) -> None:
    exit_part = f", exit code {job['exit_code']}" if job.get("exit_code") is not None else ""
    console.print(f"job {job['id']} {_state(job['state'])}{exit_part}: runtime {_duration(job['runtime_seconds'])}, "
                  f"cost {usd(job['cost_usd'])}, attempts {job['attempts']}")
    if job["state"] != "SUCCEEDED" and job.get("reason"):  # why it failed, not only what it cost
        console.print(f"  reason: {job['reason']}", highlight=False, markup=False)


def job_detail(console: Console, job: dict[str, Any], events: list[dict[str, Any]]) -> None:
    console.print(f"[bold]{job['id']}[/] {job['name']} (team {job['team']})  state {_state(job['state'])}")
    rows = [("exit code", job["exit_code"]), ("reason", job["reason"] or "-"),
            ("GPUs", job["accelerators"] or "-"),
            ("nodes", ((job.get("spec") or {}).get("resources") or {}).get("num_nodes", 1)),  # gangs
            ("priority", job["priority"]),
            ("submitted", _short_time(job["submitted_at"])), ("started", _short_time(job["started_at"])),
            ("finished", _short_time(job["finished_at"])), ("deadline", _short_time(job["deadline_at"])),
            ("runtime", _duration(job["runtime_seconds"])), ("cost", usd(job["cost_usd"])),
            ("attempts", job["attempts"]), ("restarts", job["restarts"])]
    if job.get("energy"):  # energy and carbon
        rows[11:11] = [("energy", energy_text(job["energy"])), ("carbon", carbon_text(job["energy"]))]
    if job["state"] == "WAITING_CAPACITY":  # what it waits for is the reason; say when it looks again
        rows[1:2] = [("waits for", job["reason"] or "-"), ("next look", _next_look(job.get("not_before")))]
    for key, value in rows:
        console.print(f"  {key:<10} {'-' if value is None else value}", highlight=False)
    attempts = Table(title="attempts", title_justify="left")
    for column in ("#", "STATE", "CLOUD", "ZONE", "TYPE", "MARKET", "$/H", "LAUNCHED", "ENDED", "EXIT", "COST",
                   "RESUMED FROM", "REASON"):
        attempts.add_column(column)
    for a in job.get("attempt_list", []):
        attempts.add_row(str(a["number"]), a["state"], a["provider"], a["zone"], a["instance_type"],
                         "spot" if a["spot"] else "on-demand", f"{a['price_per_hour']:.4f}",
                         _short_time(a["launched_at"]), _short_time(a["ended_at"]),
                         "-" if a["exit_code"] is None else str(a["exit_code"]),
                         usd(a.get("cost_usd", 0.0)), a.get("resumed_from") or "-", a["end_reason"] or "-")
    console.print(attempts)
    timeline = Table(title="events", title_justify="left")
    for column in ("TIME", "FROM", "TO", "REASON"):
        timeline.add_column(column)
    for e in events:
        timeline.add_row(_short_time(e["at"]), e["from"] or "", e["to"] or "", e["reason"])
    console.print(timeline)


def tokens_table(console: Console, tokens: list[dict[str, Any]]) -> None:
    table = Table()
    for column in ("ID", "ROLE", "TEAM", "NAME", "CREATED", "EXPIRES", "REVOKED"):
        table.add_column(column)
    for t in tokens:
        table.add_row(t["id"], t["role"], t["team"] or "-", t["name"] or "-", _short_time(t["created_at"]),
                      _short_time(t["expires_at"]), _short_time(t["revoked_at"]))
    console.print(table)


def instances_table(console: Console, instances: list[dict[str, Any]]) -> None:
    table = Table()
    for column in ("ID", "CLOUD", "ZONE", "TYPE", "MARKET", "$/H", "JOB", "STATE", "LAUNCHED"):
        table.add_column(column)
    for i in instances:
        table.add_row(i["id"], i["provider"], i["zone"], i["instance_type"], "spot" if i["spot"] else "on-demand",
                      f"{i['price_per_hour']:.4f}", i["job_id"], i["state"], _short_time(i["launched_at"]))
    console.print(table)
