"""`spotwise costs`: what was spent, grouped by team, project, job, cloud, region or day."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from orchestrator.cli.client import Client, check_output
from orchestrator.cli.console import make_console

console = make_console()


def _client() -> Client:
    from orchestrator.cli import client  # orchestrator.cli imports this module while initialising

    return client()


def costs(
    by: Annotated[str, typer.Option("--by", help="team, project, job, attempt, cloud, region or day")] = "team",
    since: Annotated[str | None, typer.Option(help="ISO time with zone, e.g. 2026-01-01T00:00Z")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time with zone")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table, json or csv")] = "table",
    energy: Annotated[bool, typer.Option("--energy", help="add energy (kWh, measured or estimated) and kg CO2e")]
    = False,
) -> None:
    """Spend from the cost ledger (current to the second); with --energy, energy and carbon too."""
    check_output(output, "table", "json", "csv")
    params: dict[str, Any] = {"by": by, "since": since, "until": until}
    if energy:
        params["energy"] = "true"
    data: dict[str, Any] = _client().get("/v1/costs", **params)
    extra = ["energy_kwh", "method", "kg_co2e"] if energy else []
    if output == "json":
        print(json.dumps(data, indent=2))
    elif output == "csv":
        writer = csv.writer(sys.stdout)
        names = ["name", "team"] if by == "job" else []  # the job's name and team beside its id
        writer.writerow([by, *names, "cost_usd", "instance_hours", *extra])
        for row in data["items"]:
            writer.writerow([row[by], *(row.get(k, "-") for k in names),
                             *(_plain(row[k]) for k in ("cost_usd", "instance_hours", *extra))])
    else:
        from policies.money import usd

        title = f"costs by {by}: {usd(data['total_usd'])}"
        if energy:
            title += f", {data['total_kwh']:.4f} kWh, {data['total_kg_co2e']:.4f} kg CO2e"
        table = Table(title=title, title_justify="left")
        names = ["NAME", "TEAM"] if by == "job" else []
        columns = [by.upper(), *names, "COST", "INSTANCE-HOURS"] + (["KWH", "ENERGY IS", "KG CO2E"] if energy else [])
        for column in columns:
            table.add_column(column, justify="left" if column in (by.upper(), *names, "ENERGY IS") else "right")
        for row in data["items"]:
            cells = [str(row[by]), *(str(row.get(k.lower()) or "-") for k in names), usd(row["cost_usd"]),
                     f"{row['instance_hours']:.3f}"]
            if energy:
                cells += [f"{row['energy_kwh']:.4f}", _method(row["method"]), f"{row['kg_co2e']:.4f}"]
            table.add_row(*cells)
        console.print(table)


def _plain(value: Any) -> Any:
    """A number as a plain decimal with 6 places: spreadsheets and `awk` misread 9.2e-05. Text is kept."""
    return f"{value:.6f}" if isinstance(value, float | int) and not isinstance(value, bool) else value


def _method(method: str) -> str:
    """The GPU part's provenance; the host share is always an estimate."""
    return {"measured": "GPU measured", "estimated": "estimated", "mixed": "partly measured"}.get(method, "-")
