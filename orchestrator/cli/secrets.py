"""`spotwise secrets set|list|delete` (issue 13). The value is read from stdin, so it never sits in shell history
or in the process list; listings show names only."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console

from orchestrator.cli.client import ApiClient, CliError

app = typer.Typer(no_args_is_help=True, help="Secrets jobs reference by name (values are never shown).")
console = Console()
Team = Annotated[str | None, typer.Option(help="team scope (admin tokens; default: admin-wide)")]


def _client() -> ApiClient:
    from orchestrator.cli import client

    return client()


@app.command("set")
def secrets_set(name: str, team: Team = None) -> None:
    """Create or replace NAME with the value on stdin (e.g. `spotwise secrets set WANDB_API_KEY < key.txt`)."""
    value = getpass.getpass(f"value for {name}: ") if sys.stdin.isatty() else sys.stdin.read()
    value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise CliError("no value on stdin; pipe it in, e.g. `printf %s \"$TOKEN\" | spotwise secrets set NAME`",
                       exit_code=2)
    row = _client().request("PUT", f"/v1/secrets/{name}", json={"value": value, "team": team})
    console.print(f"secret {row['name']} {'created' if row['created'] else 'replaced'} (scope {row['scope']})")


@app.command("list")
def secrets_list(team: Team = None, output: Annotated[str, typer.Option("--output", "-o")] = "table") -> None:
    """Names and scopes only."""
    data = _client().get("/v1/secrets", team=team)
    if output == "json":
        import json

        print(json.dumps(data, indent=2))
        return
    for item in data["items"]:
        console.print(f"{item['name']:<32} {item['scope']:<16} {item['updated_at']}", highlight=False)


@app.command("delete")
def secrets_delete(name: str, team: Team = None) -> None:
    row = _client().request("DELETE", f"/v1/secrets/{name}", params={"team": team} if team else {})
    console.print(f"secret {row['name']} deleted (scope {row['scope']})")
