"""`spotwise providers list|check|setup`: the daemon's clouds, their credentials, one-time setup.

A thin client of /v1/providers: the daemon holds the provider config and credentials, so these
commands work the same from a laptop as on the daemon's host and need no cloud SDK here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.client import Client, CliError, check_output, failure, segment
from orchestrator.cli.console import make_console
from orchestrator.client import SpotwiseError

app = typer.Typer(no_args_is_help=True, help="Cloud providers the daemon uses (admin only).")
console = make_console()
Output = Annotated[str, typer.Option("--output", "-o", help="table or json")]


# A launch preflight asks every region and zone of every provider (AWS: one DryRun launch per zone).
PREFLIGHT_TIMEOUT_S = 300.0


def _client(timeout: float | None = None) -> Client:
    # Imported here: orchestrator.cli imports this module while it is still being initialised.
    from orchestrator.cli import client
    from orchestrator.cli.client import client_settings

    return client() if timeout is None else Client.from_settings(client_settings(), timeout=timeout)


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
    launch: Annotated[bool, typer.Option("--launch", help="also check that a launch would work: image, network "
                                         "per zone, quotas, public_url, a no-cost launch where the cloud has one")]
    = False,
) -> None:
    """Probe each provider's credentials from the daemon (with --launch: everything a launch needs); exits 1 if
    any check fails."""
    check_output(output)
    params: dict[str, Any] = {"name": names} if names else {}
    if launch:
        _launch_preflight(params, output)
        return
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


def _launch_preflight(params: dict[str, Any], output: str) -> None:
    try:
        data = _client(PREFLIGHT_TIMEOUT_S).get("/v1/providers/preflight", **params)
    except SpotwiseError as exc:
        names = params.get("name") or []
        told = failure(exc)
        raise (_rephrase_404(names[0], told) if len(names) == 1 else told) from None
    if output == "json":
        print(json.dumps(data, indent=2))
    else:
        _table("launch preflight", ["check", "provider", "region", "result"], [
            [r["check"], r["provider"], r["region"],
             f"[green]ok[/] [dim]{escape(r['detail'])}[/]" if r["ok"] else f"[red]{escape(r['fix'])}[/]"]
            for r in data["items"]
        ])
    if not data["ok"]:
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
