"""`spotwise alerts list|test`: alert history with delivery status; send a test alert to one sink."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.cli.client import ApiClient, CliError, check_output
from orchestrator.cli.console import make_console

app = typer.Typer(no_args_is_help=True, help="Alerts and their delivery to sinks.")
console = make_console()


def _client() -> ApiClient:
    from orchestrator.cli import client  # orchestrator.cli imports this module while initialising

    return client()


@app.command("list")
def list_alerts(kind: str | None = None, limit: int = 50,
                output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table") -> None:
    """Recent alerts, newest first, with each sink's delivery state."""
    check_output(output)
    data = _client().get("/v1/alerts", kind=kind, limit=limit)
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    if not data["items"]:
        console.print("no alerts" + (f" of kind {kind!r}" if kind else ""))
        return
    table = Table()
    for column in ("TIME", "KIND", "SEVERITY", "TEAM", "SUBJECT", "DELIVERY"):
        table.add_column(column)
    for a in data["items"]:
        delivery = ", ".join(f"{d['sink']}:{d['state']}" + (f"({d['tries']})" if d["state"] != "delivered" else "")
                             for d in a["deliveries"]) or "-"
        table.add_row(a["created_at"][:19], a["kind"], a["severity"], a["team"] or "-", a["subject"], delivery)
    console.print(table)


@app.command("test")
def test(sink: str) -> None:
    """Send one test alert to SINK now and report whether it arrived."""
    result = _client().post("/v1/alerts/test", {"sink": sink})
    d = result["deliveries"][0]
    if d["state"] != "delivered":
        raise CliError(f"test alert to {sink} failed: {d['last_error']}")
    console.print(f"test alert {result['id']} delivered to {sink}")
