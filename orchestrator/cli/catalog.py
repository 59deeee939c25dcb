"""`spotwise catalog`: import an offline price list, see each price source's freshness.

`import` parses nothing itself: it gzips the file and uploads it to the daemon (a 3 MB vms.csv
is ~0.4 MB gzipped, under the API's request limit), which parses and stores it, so the client
needs no database access and the daemon validates what it stores.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.cli.client import Client, CliError, check_output, client_settings
from orchestrator.cli.console import make_console

app = typer.Typer(no_args_is_help=True, help="Price catalogs: import offline price files, see freshness.")
console = make_console()


@app.command("import")
def import_file(
    file: Path,
    cloud: Annotated[str, typer.Option("--cloud", help="the cloud the file prices: gcp, azure, aws, ...")],
    output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table",
) -> None:
    """Load a SkyPilot-format vms.csv as CLOUD's catalog prices (used where no live price exists)."""
    check_output(output)
    cloud = cloud.strip().lower()  # cloud names are lowercase everywhere ('GCP' is gcp), as the daemon stores them
    if not cloud:
        raise CliError("--cloud is empty; give the cloud the file prices, e.g. --cloud gcp", exit_code=2)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}", exit_code=2) from None
    body = raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw, compresslevel=6)
    api = Client.from_settings(client_settings())
    result = api.request("POST", "/v1/catalog/import", params={"cloud": cloud, "name": file.name}, content=body,
                         headers={"Content-Type": "application/gzip"})
    if output == "json":
        print(json.dumps(result, indent=2))
    else:
        console.print(f"imported {result['offers']} {result['cloud']} offers from {file.name}")


@app.command("status")
def status(output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table") -> None:
    """Each price source: offers, age, stale or not, failed refreshes in a row."""
    check_output(output)
    items = Client.from_settings(client_settings()).get("/v1/catalog")["items"]
    if output == "json":
        print(json.dumps(items, indent=2))
        return
    table = Table()
    for column in ("CLOUD", "SOURCE", "REFRESH", "OFFERS", "FETCHED", "STALE", "FAILURES", "LAST ERROR / FILE"):
        table.add_column(column)
    for i in items:
        every = i.get("interval_seconds")  # live types and live prices refresh on their own intervals
        refresh = f"{i.get('refresh', '-')}, every {every:g}s" if every else i.get("refresh", "-")
        table.add_row(i["cloud"], i["source"], refresh, str(i["offers"]), i["fetched_at"] or "-",
                      "yes" if i["stale"] else "no", str(i["failures"]), i["last_error"] or i["detail"] or "-")
    console.print(table)
