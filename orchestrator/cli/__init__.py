"""`spotwise`: the command line. A thin client of the API (SPOTWISE_URL, SPOTWISE_TOKEN).

Fast to start: this module and the command modules it registers import no pydantic model, settings model,
HTTP library, numpy or cloud SDK at module level; each command imports what it uses (tests/unit/
test_runtime_imports.py holds this; bench/cli_startup.py measures `--help` and `jobs list`, target < 0.25 s).
An entry point: it imports `client` for the API calls and, lazily, the daemon's folders for the local commands
(`serve`, `demo`, `simulate`, `policy check`, `catalog import`); never `api`, `ui`, `provisioning` or `agent`.
Only orchestrator/__main__.py imports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from orchestrator.cli import (
    alerts,
    catalog,
    costs,
    offers,
    plainparams,
    policy,
    providers,
    render,
    secrets,
    ui,
)
from orchestrator.cli.client import Client, CliError, check_output, client_settings, failure, load_settings, segment
from orchestrator.cli.console import make_console
from orchestrator.client import SpotwiseError, WaitEvent, WaitTimeout

if TYPE_CHECKING:
    from orchestrator.config import Settings
    from orchestrator.jobs.models import JobSpec

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, as kubectl's: typer's rich help imports rich.markdown, ~0.07 s per --help
    help="Run GPU jobs on the cheapest spot capacity without losing work or money.",
)
jobs_app = typer.Typer(no_args_is_help=True, help="List, inspect and cancel jobs.")
tokens_app = typer.Typer(no_args_is_help=True, help="API tokens (admin only).")
chaos_app = typer.Typer(no_args_is_help=True, help="Inject faults (local provider) to see recovery.")
instances_app = typer.Typer(no_args_is_help=True, help="Instances Spotwise runs.")
app.add_typer(jobs_app, name="jobs")
app.add_typer(tokens_app, name="tokens")
app.add_typer(chaos_app, name="chaos")
app.add_typer(instances_app, name="instances")
app.add_typer(providers.app, name="providers")
app.add_typer(catalog.app, name="catalog")  # price catalog and placement
app.command("offers")(offers.offers)
app.add_typer(policy.app, name="policy")  # costs, policies and alerts
app.add_typer(alerts.app, name="alerts")
app.command("costs")(costs.costs)
app.add_typer(secrets.app, name="secrets")  # job secrets
app.command("ui")(ui.ui)  # one-time dashboard sign-in link

plainparams.install()  # str/int/float options without typer's pydantic adapters (~0.18 s of every command)
console = make_console()
Output = Annotated[str, typer.Option("--output", "-o", help="table or json")]


def settings() -> Settings:
    return load_settings()


def client() -> Client:
    """The Python client (`spotwise.Client`) every command talks to the daemon through."""
    return Client.from_settings(client_settings())


def load_spec_file(path: Path) -> JobSpec:
    """orchestrator.jobs.specfile.load_spec_file, imported when a command reads a spec (the job model is heavy)."""
    from orchestrator.jobs.specfile import load_spec_file as load

    return load(path)


def _emit(data: Any, output: str, table: Any) -> None:
    check_output(output)
    if output == "json":
        print(json.dumps(data, indent=2))
    else:
        table()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind")] = None,
) -> None:
    """Run the daemon: API plus reconcile loops."""
    from orchestrator.config import ConfigError
    from orchestrator.daemon import serve as run_daemon
    from orchestrator.runtime import StartupError
    from orchestrator.store.db import DatabaseError

    # The flags are validated like the file and environment (model_copy(update=...) validated nothing).
    config = load_settings(**{k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    try:
        run_daemon(config)
    except (ConfigError, StartupError, DatabaseError) as exc:  # one line, not a traceback
        raise CliError(f"cannot start the daemon: {exc}") from None


@app.command()
def submit(
    file: Path,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="follow until it ends")] = False,
    output: Output = "table",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show where it would go now; queue nothing")] = False,
    fmt: Annotated[str, typer.Option("--format", help="auto, spotwise or skypilot (a SkyPilot task file, "
                                     "docs/skypilot.md); auto tells them apart by their fields")] = "auto",
) -> None:
    """Submit a job from a YAML or JSON spec file, or a SkyPilot task file."""
    check_output(output)
    from orchestrator.skypilot import load_job_file

    spec = load_job_file(file, fmt)
    api = client()
    if dry_run:  # checked by the daemon like a submission, then shown; no workdir is uploaded, nothing is queued
        from orchestrator.cli import dryrun

        result = api.dry_run(spec)
        _emit(result, output, lambda: dryrun.show(console, result))
        return
    human = make_console(stderr=True) if output == "json" else console
    spec = attach_workdir(api, settings(), spec, file.parent, human)  # workdir: pack + upload, digest on the job
    job = api.submit(spec)
    if output == "json" and not wait:
        print(json.dumps(job, indent=2))
        return
    # With --output json, stdout carries only the JSON: progress goes to stderr.
    human.print(f"submitted job [bold]{job['id']}[/] ({job['name']}, team {job['team']})")
    previous = signal.signal(signal.SIGINT, _stop_following(job["id"]))  # the job exists: Ctrl-C never stops it
    try:
        wait_for = api.job(job["id"]).get("budget_wait")
        if wait_for:  # said now, not discovered in `jobs show` after the launcher's pass
            human.print(f"it will wait: {wait_for}; it starts when the budget allows (a new period, a higher "
                        "limit, or running jobs ending)", highlight=False, markup=False)
        final = watch(api, job["id"], out=human) if wait else None
    finally:
        signal.signal(signal.SIGINT, previous)
    if final is not None:
        if output == "json":
            print(json.dumps(final, indent=2))
        raise typer.Exit(0 if final["state"] == "SUCCEEDED" else 1)


def _stop_following(job_id: str) -> Callable[[int, FrameType | None], None]:
    """A SIGINT handler for following a submitted job: say the job keeps running and how to get back to it, and
    exit 130 at once. Not a KeyboardInterrupt: one raised inside the live status line's lock could leave that lock
    held and the exit waiting forever on the thread that redraws it; there is nothing local to clean up."""
    message = (f"\nstopped following {job_id}; the job keeps running: follow it with 'spotwise jobs logs -f "
               f"{job_id}', stop it with 'spotwise jobs cancel {job_id}'\n")

    def handler(signum: int, frame: FrameType | None) -> None:
        for stream in (sys.stdout, sys.stderr):  # what was printed stays printed (a reentrant flush may refuse)
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                stream.flush()
        if sys.stderr.isatty():
            os.write(2, b"\x1b[?25h")  # the status line hid the cursor
        os.write(2, message.encode())
        os._exit(130)

    return handler


def attach_workdir(api: Client, config: Settings, spec: JobSpec, base: Path, out: Console) -> JobSpec:
    """The spec with its `workdir:` packed and uploaded (the client's own step), told on `out`."""
    from orchestrator.client.workdir import attach_workdir as attach

    return attach(api.http, config, spec, base,
                  lambda line: out.print(line, highlight=False, soft_wrap=True))


def watch(api: Client, job_id: str, poll: float = 1.0, out: Console | None = None,
          timeout: float | None = None) -> dict[str, Any]:
    """`Client.wait` on the terminal: the story and the output as lines, a live status line, the summary;
    returns the final job. With `timeout` (seconds), a CliError saying the job's state and reason when it is not
    final by then."""
    from orchestrator.client.narrate import status_line

    out = out or console
    with out.status(f"{job_id}: waiting") as status:
        def show(event: WaitEvent) -> None:
            if event.kind == "snapshot":
                status.update(status_line(event.job))
            elif event.kind == "log":
                for line in (event.data or "").splitlines():
                    out.print(f"  {event.stream:<6} {line}", highlight=False, markup=False,
                              style="dim" if event.stream == "stderr" else None)
            elif event.kind != "finished":
                out.print(event.text, highlight=False, markup=False)

        try:
            job = api.wait(job_id, show, poll=poll, timeout=timeout, progress=False)
        except WaitTimeout as exc:
            raise CliError(str(exc)) from None
    render.job_summary(out, job)
    return job


@jobs_app.command("list")
def jobs_list(
    state: Annotated[list[str] | None, typer.Option("--state", "-s", help="only jobs in this state (repeatable), "
                                                   "e.g. RUNNING")] = None,
    team: Annotated[str | None, typer.Option(help="only this team's jobs (admin tokens)")] = None,
    limit: Annotated[int, typer.Option(help="at most this many jobs")] = 50,
    output: Output = "table",
) -> None:
    """Jobs, newest first."""
    check_output(output)
    data = client().list_jobs(state=state, team=team, limit=limit)
    _emit(data, output, lambda: render.jobs_table(console, data["items"]))


@jobs_app.command("show")
def jobs_show(job_id: str, output: Output = "table") -> None:
    """One job with its attempts and events."""
    check_output(output)
    api = client()
    job = api.job(job_id)
    events = api.events(job_id)
    _emit({**job, "events": events}, output, lambda: render.job_detail(console, job, events))


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, output: Output = "table") -> None:
    """Cancel a job; its instance is terminated by the next reconcile pass."""
    check_output(output)
    job = client().cancel(job_id)
    _emit(job, output, lambda: console.print(f"job {job['id']} is {job['state']}"))


@jobs_app.command("logs")
def jobs_logs(job_id: str, follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the "
                                                                 "job ends")] = False) -> None:
    """Print a job's output; -f follows it until the job ends."""
    for item in client().logs(job_id, follow=follow):
        (sys.stderr if item["stream"] == "stderr" else sys.stdout).write(item["data"])
        sys.stdout.flush()


@tokens_app.command("create")
def tokens_create(
    team: Annotated[str | None, typer.Option(help="team the token acts for")] = None,
    admin: Annotated[bool, typer.Option(help="an admin token instead")] = False,
    name: Annotated[str, typer.Option(help="a label to tell tokens apart in `tokens list`")] = "",
    expires_in_hours: Annotated[float | None, typer.Option(help="the token stops working after this many hours; "
                                                           "default: never")] = None,
    output: Output = "table",
) -> None:
    """Create an API token (admin only); it is shown once."""
    check_output(output)  # before creating it: a token made but never printed is lost
    if admin == (team is not None):
        raise CliError("give --team NAME for a team token, or --admin for an admin token", exit_code=2)
    body = {"team": team, "admin": admin, "name": name, "expires_in_hours": expires_in_hours}
    row = client().post("/v1/tokens", body)

    def show() -> None:
        console.print(f"token {row['id']} for {row['team'] or 'admin'} (shown once; keep it secret):")
        print(row["token"])

    _emit(row, output, show)


@tokens_app.command("list")
def tokens_list(output: Output = "table") -> None:
    """Every API token with its role, team, expiry and revocation (never the token itself)."""
    data = client().get("/v1/tokens")
    _emit(data, output, lambda: render.tokens_table(console, data["items"]))


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="the token's id, from `tokens list`")]) -> None:
    """Revoke a token now: it is refused from its next request on."""
    row = client().post(f"/v1/tokens/{segment(token_id, 'token id')}/revoke")
    console.print(f"token {row['id']} revoked at {row['revoked_at']}")


@instances_app.command("list")
def instances_list(
    all: Annotated[bool, typer.Option("--all", help="include ended")] = False, output: Output = "table"
) -> None:
    """Instances Spotwise runs now (with --all, ended ones too): cloud, zone, type, market, price and job."""
    data = client().get("/v1/instances", all=all)
    _emit(data, output, lambda: render.instances_table(console, data["items"]))


@chaos_app.command("preempt")
def chaos_preempt(instance_id: str, grace: Annotated[float | None, typer.Option(help="notice seconds")] = None) -> None:
    """Preempt a spot instance of the local provider: notice first, kill after the grace period."""
    result = client().post(f"/v1/chaos/instances/{segment(instance_id, 'instance id')}/preempt",
                           {"grace_seconds": grace})
    console.print(f"preemption notice sent to {result['id']}")


def _register_simulate() -> None:
    from orchestrator.cli.simulate import simulate

    app.command()(simulate)


_register_simulate()


@app.command()
def demo(keep: Annotated[bool, typer.Option(help="keep the demo's home directory")] = False) -> None:
    """Start a daemon on SQLite + the local provider, run the example training job, show the result."""
    from orchestrator.cli.demo import run_demo

    raise typer.Exit(run_demo(console, keep=keep))


def main() -> None:
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except CliError as exc:
        _fail(str(exc), exc.exit_code)
    except SpotwiseError as exc:  # the client's errors: its message, exit 2 for a usage error, else 1
        told = failure(exc)
        _fail(str(told), told.exit_code)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        _fail("aborted", 130)
    except Exception as exc:  # click usage errors and anything unexpected: a message, not a traceback
        spec_problems = _spec_error_text(exc)
        if spec_problems is not None:
            _fail(spec_problems, 1)
        if _is_click_error(exc):  # usage text and click's own exit code (2 for a usage error)
            exc.show()  # type: ignore[attr-defined]
            raise SystemExit(exc.exit_code) from None  # type: ignore[attr-defined]
        _fail(f"unexpected error: {type(exc).__name__}: {exc}", 1)


def _spec_error_text(exc: Exception) -> str | None:
    """The message for an orchestrator.jobs.specfile.SpecError, None for anything else. The class is looked up, not
    imported: unless a command loaded the spec module no spec error can exist, and importing it here would cost
    every command the job model."""
    specfile = sys.modules.get("orchestrator.jobs.specfile")
    if specfile is None or not isinstance(exc, specfile.SpecError):
        return None
    return f"{exc.source}: invalid job spec:\n" + "\n".join(f"  - {p}" for p in exc.problems)


def _is_click_error(exc: Exception) -> bool:
    """A click usage/parameter error, whichever click raised it.

    Why not `isinstance(exc, click.ClickException)` alone: typer 0.29 and later vendor click as
    `typer._click`, whose exceptions are other classes, and usage errors then fell through to
    "unexpected error: NoSuchOption" with exit code 1 instead of the usage text and exit code 2.
    """
    import click

    if isinstance(exc, click.ClickException):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "ClickException" in names and callable(getattr(exc, "show", None)) and isinstance(
        getattr(exc, "exit_code", None), int)


def _fail(message: str, code: int) -> None:
    from rich.markup import escape  # a message's own brackets ('spotwise[postgres]') are text, not markup

    make_console(stderr=True).print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise SystemExit(code)
