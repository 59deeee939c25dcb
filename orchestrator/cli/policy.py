"""`spotwise policy apply|show|diff|history`: budgets, caps and idle rules as a YAML file.

The file is validated here first (same code as the daemon), so a mistake is reported with its
line and field before anything is sent; the daemon validates again and refuses without changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.client import Client, CliError, check_output
from orchestrator.cli.console import make_console

app = typer.Typer(no_args_is_help=True, help="Spending and idle policies (a YAML file).")
console = make_console()


def _client() -> Client:
    from orchestrator.cli import client  # orchestrator.cli imports this module while initialising

    return client()


def _read(file: Path) -> str:
    from orchestrator.spending.policyfile import PolicyError, parse_policy  # pydantic models: only for apply and diff

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:  # same message as a binary job spec gets
        raise CliError(f"{file}: cannot read the file: it is not UTF-8 text (a policy is a YAML file)") from None
    try:
        parse_policy(text, str(file))
    except PolicyError as exc:
        raise CliError(f"{file}: policy refused, nothing changed:\n" + "\n".join(f"  - {p}" for p in exc.problems)) \
            from None
    return text


def _show_effects(effects: list[str]) -> None:
    for line in effects:
        console.print(f"now: {line}", highlight=False, markup=False)


@app.command("apply")
def apply(file: Path, output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
          yes: Annotated[bool, typer.Option("--yes", "-y", help="apply even if it stops running jobs or blocks "
                                            "launches now, without asking")] = False) -> None:
    """Validate FILE and make it the policy in force (a new version in the history).

    When it would stop running jobs or block launches at once, says which and asks first (--yes: do not ask;
    without a terminal to ask on, it refuses unless --yes)."""
    check_output(output, "text", "json")
    text, api = _read(file), _client()
    effects = api.post("/v1/policies/diff", {"text": text, "source": str(file)}).get("effects") or []
    if effects and not yes:
        _show_effects(effects)
        if not sys.stdin.isatty():
            raise CliError("not applied: this policy acts on running jobs now; re-run with --yes to apply it")
        if not typer.confirm("apply it?", default=False):
            raise CliError("not applied", exit_code=1)
    result = api.post("/v1/policies", {"text": text, "source": str(file)})
    if output == "json":
        print(json.dumps(result, indent=2))
    elif result["changed"]:
        console.print(f"policy version {result['version']} applied")
        if result.get("priorities_lowered"):
            console.print(f"{result['priorities_lowered']} queued job(s) lowered to their team's max_priority cap")
    else:
        console.print(f"unchanged: version {result['version']} is already this file")


@app.command("diff")
def diff(file: Path, output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text") -> None:
    """Show what applying FILE would change, and what it would stop or block now (JSON: {"diff": unified diff
    text, "" when unchanged; "effects": one line per running job stopped or launch blocked at once})."""
    check_output(output, "text", "json")
    data = _client().post("/v1/policies/diff", {"text": _read(file)})
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    text = data["diff"]
    print(text or "no changes", end="" if text else "\n")
    _show_effects(data.get("effects") or [])


@app.command("show")
def show(output: Annotated[str, typer.Option("--output", "-o", help="yaml or json")] = "yaml") -> None:
    """The policy in force."""
    check_output(output, "yaml", "json")
    data = _client().get("/v1/policies/current")
    if output == "json":
        print(json.dumps(data, indent=2))
    elif data["version"] is None:
        console.print("no policy applied yet ('spotwise policy apply FILE')")
    else:
        console.print(f"# version {data['version']}, applied {data['applied_at']}", highlight=False)
        print(data["text"], end="")


@app.command("history")
def history(output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table") -> None:
    """Every applied version, newest first."""
    check_output(output, "table", "json")
    data = _client().get("/v1/policies/history")
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    if not data["items"]:
        console.print("no policy applied yet ('spotwise policy apply FILE')")
        return
    console.print(f"{'VERSION':>7}  {'APPLIED AT':<32}  {'SHA256':<12}  APPLIED BY", highlight=False)
    for row in data["items"]:
        console.print(f"{row['version']:>7}  {row['applied_at']:<32}  {row['sha256'][:12]}  {row['applied_by']}",
                      highlight=False)
