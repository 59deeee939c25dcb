"""`spotwise alerts list|test|verify`: alert history with delivery status; send a test alert to one sink; check a
webhook delivery's signature the way a receiver must (the signed string is easy to get subtly wrong)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.cli.client import Client, CliError, check_output
from orchestrator.cli.console import make_console

app = typer.Typer(no_args_is_help=True, help="Alerts and their delivery to sinks.")
console = make_console()


def _client() -> Client:
    from orchestrator.cli import client  # orchestrator.cli imports this module while initialising

    return client()


@app.command("list")
def list_alerts(kind: Annotated[str | None, typer.Option(help="only this kind, e.g. cost.threshold "
                                                         "(see docs/alerts.md)")] = None,
                limit: Annotated[int, typer.Option(help="at most this many alerts")] = 50,
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
def test(sink: Annotated[str, typer.Argument(help="a sink name from the daemon's alert_sinks")]) -> None:
    """Send one test alert to SINK now and report whether it arrived."""
    result = _client().post("/v1/alerts/test", {"sink": sink})
    d = result["deliveries"][0]
    if d["state"] != "delivered":
        raise CliError(f"test alert to {sink} failed: {d['last_error']}")
    console.print(f"test alert {result['id']} delivered to {sink}")


@app.command("verify")
def verify(
    body: Annotated[str, typer.Argument(help="file holding the raw request body, byte for byte; - reads stdin")],
    timestamp: Annotated[str, typer.Option(help="the X-Spotwise-Timestamp header")],
    signature: Annotated[str, typer.Option(help="the X-Spotwise-Signature header (sha256=...)")],
    secret_env: Annotated[str, typer.Option(help="environment variable holding the sink's secret")]
    = "SPOTWISE_WEBHOOK_SECRET",
    window: Annotated[float, typer.Option(help="replay window: refuse a timestamp further than this, seconds")]
    = 300.0,
) -> None:
    """Check one webhook delivery: the signature matches the body and the timestamp is inside the replay window.

    Exit 0 when genuine; exit 1 naming why not. The secret comes from an environment variable, not an
    argument, so it stays out of shell history and process lists."""
    from orchestrator.alerts.signature import check_delivery

    secret = os.environ.get(secret_env, "")
    if not secret:
        raise CliError(f"set {secret_env} to the webhook sink's secret (or name another variable with --secret-env)")
    try:
        raw = sys.stdin.buffer.read() if body == "-" else Path(body).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {body}: {exc.strerror}") from None
    problem = check_delivery(secret.encode(), timestamp, raw, signature, window=window)
    if problem:
        raise CliError(f"not a genuine delivery: {problem}")
    try:
        alert = json.loads(raw)
        what = f" (alert {alert['id']}, {alert['kind']})"
    except (ValueError, KeyError, TypeError):
        what = ""
    console.print(f"genuine: signature matches and signed {timestamp}{what}")
