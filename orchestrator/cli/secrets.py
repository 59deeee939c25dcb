"""`spotwise secrets set|list|delete`. The value is read from stdin, so it never sits in shell history
or in the process list; listings show names only."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from orchestrator.cli.client import Client, CliError, check_output, segment
from orchestrator.cli.console import make_console

app = typer.Typer(no_args_is_help=True, help="Secrets jobs reference by name (values are never shown).")
console = make_console()
Team = Annotated[str | None, typer.Option(help="team scope (admin tokens; default: admin-wide)")]


def _client() -> Client:
    from orchestrator.cli import client

    return client()


@app.command("set")
def secrets_set(name: str, team: Team = None) -> None:
    """Create or replace NAME with the value on stdin (e.g. `spotwise secrets set WANDB_API_KEY < key.txt`)."""
    path = f"/v1/secrets/{segment(name, 'secret name')}"
    value = getpass.getpass(f"value for {name}: ") if sys.stdin.isatty() else _read_stdin()
    value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise CliError("no value on stdin; pipe it in, e.g. `printf %s \"$TOKEN\" | spotwise secrets set NAME`",
                       exit_code=2)
    row = _client().request("PUT", path, json={"value": value, "team": team})
    console.print(f"secret {row['name']} {'created' if row['created'] else 'replaced'} (scope {row['scope']})")


def _read_stdin() -> str:
    """Stdin as UTF-8 text. Why strict: the API carries values as JSON strings, so bytes that are not UTF-8
    (a key file, `head -c 32 /dev/urandom`) cannot be stored as given; say so instead of failing deep inside."""
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError:
        raise CliError("the value on stdin is not UTF-8 text; secret values must be text, so encode binary "
                       "data first, e.g. `base64 < key.bin | spotwise secrets set NAME`", exit_code=2) from None


@app.command("list")
def secrets_list(team: Team = None,
                 output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table") -> None:
    """Names and scopes only."""
    check_output(output)
    data = _client().get("/v1/secrets", team=team)
    if output == "json":
        import json

        print(json.dumps(data, indent=2))
        return
    if not data["items"]:
        console.print("no secrets" + (f" for team {team}" if team else "") + " ('spotwise secrets set NAME')")
        return
    console.print(f"{'NAME':<32} {'SCOPE':<16} UPDATED", highlight=False)
    for item in data["items"]:
        console.print(f"{item['name']:<32} {item['scope']:<16} {item['updated_at']}", highlight=False)


@app.command("delete")
def secrets_delete(name: Annotated[str, typer.Argument(help="the secret's name")], team: Team = None) -> None:
    """Delete a secret from its scope (the team's, or admin-wide without --team)."""
    path = f"/v1/secrets/{segment(name, 'secret name')}"
    row = _client().request("DELETE", path, params={"team": team} if team else {})
    console.print(f"secret {row['name']} deleted (scope {row['scope']})")
