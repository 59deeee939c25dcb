"""`spotwise costs`: what was spent, grouped by team, project, job, cloud, region or day."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.cli.client import ApiClient, CliError

console = Console()


def _client() -> ApiClient:
    from orchestrator.cli import client  # orchestrator.cli imports this module while initialising

    return client()


def costs(
    by: Annotated[str, typer.Option("--by", help="team, project, job, attempt, cloud, region or day")] = "team",
    since: Annotated[str | None, typer.Option(help="ISO time with zone, e.g. 2026-01-01T00:00Z")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time with zone")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table, json or csv")] = "table",
) -> None:
    """Spend from the cost ledger (current to the second)."""
    if output not in ("table", "json", "csv"):
        raise CliError(f"unknown --output {output!r}; use table, json or csv", exit_code=2)
    data: dict[str, Any] = _client().get("/v1/costs", by=by, since=since, until=until)
    if output == "json":
        print(json.dumps(data, indent=2))
    elif output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([by, "cost_usd", "instance_hours"])
        for row in data["items"]:
            writer.writerow([row[by], row["cost_usd"], row["instance_hours"]])
    else:
        table = Table(title=f"costs by {by}: ${data['total_usd']:.4f}", title_justify="left")
        for column in (by.upper(), "COST $", "INSTANCE-HOURS"):
            table.add_column(column, justify="left" if column == by.upper() else "right")
        for row in data["items"]:
            table.add_row(str(row[by]), f"{row['cost_usd']:.4f}", f"{row['instance_hours']:.3f}")
        console.print(table)
