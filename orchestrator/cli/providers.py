"""`spotwise providers list|check|setup`: the daemon's clouds, their credentials, one-time setup.

A thin client of /v1/providers: the daemon holds the provider config and credentials, so these
commands work the same from a laptop as on the daemon's host and need no cloud SDK here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from orchestrator.cli.client import Client, CliError, check_output, failure, segment
from orchestrator.cli.console import make_console
from orchestrator.client import SpotwiseError

app = typer.Typer(no_args_is_help=True, help="Cloud providers the daemon uses (admin only).")
console = make_console()
Output = Annotated[str, typer.Option("--output", "-o", help="table or json")]


def _client() -> Client:
    # Imported here: orchestrator.cli imports this module while it is still being initialised.
    from orchestrator.cli import client

    return client()


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _rephrase_404(name: str, exc: CliError) -> CliError:
    """A 404 for a name no installation knows is a typo, not a provider missing from the daemon's config:
    say which names exist. Any other error is passed on as it is."""
    from providers.registry import available_names  # names only: imports no provider SDK, calls no cloud

    known = available_names()
    if exc.status != 404 or name in known:
        return exc
    return CliError(f"unknown provider {name}; known: {', '.join(known)} "
                    "('spotwise providers list' shows the ones the daemon has configured)")


@app.command("list")
def providers_list(output: Output = "table") -> None:
    """Configured providers, their capabilities, and any that failed to load (with why)."""
    check_output(output)
    data = _client().get("/v1/providers")
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    _table("providers", ["name", "loaded", "capabilities", "setup", "error"], [
        [p["name"], "yes" if p["loaded"] else "[red]no[/]", ", ".join(p["capabilities"]) or "-",
         ", ".join(p["setup"]) or "-", p["error"] or ""]
        for p in data["items"]
    ])


@app.command("check")
def providers_check(
    names: Annotated[list[str] | None, typer.Argument(help="providers to check; default all configured")] = None,
    output: Output = "table",
) -> None:
    """Probe each provider's credentials from the daemon; exits 1 if any probe fails."""
    check_output(output)
    params: dict[str, Any] = {"name": names} if names else {}
    data = _client().get("/v1/providers/check", **params)
    if output == "json":
        print(json.dumps(data, indent=2))
    else:
        _table("credentials", ["name", "ok", "account", "detail"], [
            [p["name"], "[green]ok[/]" if p["ok"] else "[red]failed[/]", p["account"] or "-",
             p["detail"] if p["ok"] else p["error"]]
            for p in data["items"]
        ])
    if not all(p["ok"] for p in data["items"]):
        raise typer.Exit(1)


@app.command("setup")
def providers_setup(name: Annotated[str, typer.Argument(help="provider, e.g. aws")], output: Output = "table") -> None:
    """Create the cloud-side resources a provider needs (idempotent: safe to run again).

    aws: an EventBridge rule for spot interruption warnings and rebalance recommendations, with an
    SQS queue target, in every configured region.
    """
    check_output(output)
    try:
        data = _client().post(f"/v1/providers/{segment(name, 'provider name')}/setup")
    except SpotwiseError as exc:
        raise _rephrase_404(name, failure(exc)) from None
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    console.print(data["message"])
    for step, result in data["setup"].items():
        if isinstance(result, dict):
            for key, value in result.items():
                console.print(f"  {step}: {key} -> {value}", highlight=False)
        else:
            console.print(f"  {step}: {result}", highlight=False)
