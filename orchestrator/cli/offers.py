"""`spotwise offers`: the cheapest matching offers across clouds, as a table or JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from orchestrator.cli.client import Client, check_output, client_settings
from orchestrator.cli.console import make_console

console = make_console()


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h" if seconds < 172800 else f"{seconds / 86400:.0f}d"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def offers_table(items: list[dict[str, Any]], carbon: bool = False) -> Table:
    table = Table(title=f"{len(items)} cheapest matching offers", title_justify="left")
    numeric = ("VCPU", "MEM GB", "SPOT $/H", "ON-DEMAND $/H", "GCO2E/KWH", "KGCO2E/H")
    for column in ("CLOUD", "REGION", "ZONE", "TYPE", "GPUS", "VCPU", "MEM GB", "SPOT $/H", "ON-DEMAND $/H",
                   "AGE", "PRIOR/H", "SOURCE") + (("GCO2E/KWH", "KGCO2E/H") if carbon else ()):
        table.add_column(column, justify="right" if column in numeric else "left", no_wrap=True)
    for o in items:
        gpus = f"{o['gpu_model']}:{o['gpu_count']}" if o["gpu_count"] else "-"
        prior = "-" if o["interruption_prior"] is None else f"{o['interruption_prior']:.2f}"
        table.add_row(o["cloud"], o["region"], o["zone"], o["instance_type"], gpus, f"{o['vcpus']:g}",
                      f"{o['memory_gb']:g}", _price(o["spot_price"]), _price(o["on_demand_price"]),
                      _age(o["price_age_seconds"]), prior, o["source"],
                      *((f"{o['grid_g_co2e_per_kwh']:.0f}" + ("" if o["grid_known"] else "?"),
                         f"{o['carbon_kg_per_hour']:.3f}") if carbon else ()))
    return table


def offers(
    gpu: Annotated[str | None, typer.Option(help="GPU model and count per node, e.g. A100:8")] = None,
    cloud: Annotated[list[str] | None, typer.Option("--cloud", help="only these clouds (repeatable)")] = None,
    region: Annotated[list[str] | None, typer.Option("--region", help="only these regions (repeatable)")] = None,
    zone: Annotated[list[str] | None, typer.Option("--zone", help="only these zones (repeatable)")] = None,
    spot: Annotated[bool | None, typer.Option("--spot/--on-demand", help="one market (default: both)")] = None,
    max_price: Annotated[float | None, typer.Option(help="$/h cap per node")] = None,
    min_vcpus: Annotated[float | None, typer.Option(help="at least this many vCPUs")] = None,
    min_memory_gb: Annotated[float | None, typer.Option(help="at least this much memory (GB)")] = None,
    limit: Annotated[int, typer.Option(help="rows to show")] = 20,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table",
    carbon: Annotated[bool, typer.Option("--carbon", help="show grid intensity and kg CO2e per hour")] = False,
    carbon_price: Annotated[float, typer.Option(help="USD per kg CO2e added when ranking (implies --carbon)")] = 0.0,
    for_job: Annotated[str | None, typer.Option("--for", help="rank for this job by expected total cost to finish "
                                                "(egress, transfer time, interruptions), with the breakdown")] = None,
) -> None:
    """The cheapest offers matching the filters across clouds (live prices, else imported ones)."""
    check_output(output)
    if for_job is not None:
        _offers_for(for_job, limit, output, bool(gpu or cloud or region or zone or spot is not None or max_price
                                                 or min_vcpus or min_memory_gb))
        return
    params: dict[str, Any] = {
        "gpu": gpu, "cloud": cloud or None, "region": region or None, "zone": zone or None,
        "market": "any" if spot is None else ("spot" if spot else "on-demand"), "max_price": max_price,
        "min_vcpus": min_vcpus, "min_memory_gb": min_memory_gb, "limit": limit,
    }
    if carbon_price:
        params["carbon_price"] = carbon_price
    data = Client.from_settings(client_settings()).get("/v1/offers", **params)
    if output == "json":
        print(json.dumps(data["items"], indent=2))
        return
    if not data["items"]:
        console.print(f"no offer matches (of {data['offers_cached']} cached); widen the filters, or import a "
                      "catalog with 'spotwise catalog import FILE --cloud NAME'")
        return
    console.print(offers_table(data["items"], carbon=carbon or carbon_price > 0))


def _offers_for(job_id: str, limit: int, output: str, filtered: bool) -> None:
    """`offers --for JOB`: the job's offers by expected total, the breakdown per offer and why the first won."""
    from orchestrator.cli.client import CliError
    from orchestrator.cli.totals import totals_table

    if filtered:
        raise CliError("--for ranks with the job's own resources; drop the other filters", exit_code=2)
    data = Client.from_settings(client_settings()).offers_for(job_id, limit=limit)
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    if not data["items"]:
        console.print(f"no offer matches job {job_id} (of {data['offers_cached']} cached)")
        return
    moved = ", ".join(f"{d['what']} {d['bytes'] / 1e9:.1f} GB in {d['cloud']} {d['region'] or '(region unknown)'}"
                      for d in data["data"]) or "no data to move"
    console.print(f"job {job_id}: {moved}; runtime left: {data['horizon']}", highlight=False)
    console.print(totals_table(data["items"], f"{len(data['items'])} offers by expected total cost to finish"))
    console.print(f"winner: {data['winner_reason']}", highlight=False)
