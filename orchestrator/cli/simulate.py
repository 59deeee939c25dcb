"""`spotwise simulate`: replay real spot availability traces through the daemon's deadline policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.client import CliError, check_output

if TYPE_CHECKING:
    from orchestrator.sim.gravity import DataGravity
    from orchestrator.sim.traces import TraceSet


def simulate(
    traces: Annotated[Path, typer.Option(
        help="folder of availability traces: one JSON file or raw probe log (.txt/.csv) per zone")],
    pattern: Annotated[str, typer.Option(
        help="which files of the folder, e.g. '*_v100_1.json' or '*_v100_1.txt'")] = "*.json",
    zones: Annotated[list[str] | None, typer.Option("--zones", help="limit to these zones")] = None,
    job_hours: Annotated[float, typer.Option(help="hours of work the simulated job needs")] = 48.0,
    deadline_hours: Annotated[float, typer.Option(help="hours from its start by which it must finish")] = 52.0,
    changeover_hours: Annotated[float, typer.Option(help="hours lost at each move to another zone or "
                                                    "on-demand")] = 0.2,
    policy: Annotated[str, typer.Option(help="a policy name or 'all'")] = "all",
    mode: Annotated[str, typer.Option(help="single, multi or both")] = "both",
    starts: Annotated[int, typer.Option(help="how many start times to sample from the traces")] = 300,
    seed: Annotated[int, typer.Option(help="random seed of the start times (same seed, same result)")] = 0,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table",
    plot: Annotated[Path | None, typer.Option(help="write a PNG of mean cost vs deadline per policy")] = None,
    plot_deadlines: Annotated[str | None, typer.Option(
        help="deadlines (hours, comma-separated) for --plot; default D and the slack x3 and x8")] = None,
    catalog: Annotated[Path | None, typer.Option(
        help="price the zones from a SkyPilot vms.csv (with --cloud and --instance-type); costs in USD")] = None,
    cloud: Annotated[str | None, typer.Option(help="the --catalog's cloud: aws, gcp or azure")] = None,
    instance_type: Annotated[str | None, typer.Option(help="the --catalog row to price, e.g. p3.2xlarge")] = None,
    history_hours: Annotated[float | None, typer.Option(
        help="hours of trace before each start the policy has seen (default: all; 0: a daemon started with "
             "the job, deciding on its prior alone)")] = None,
    checkpoint_gb: Annotated[float | None, typer.Option(
        help="GB of checkpoint every new instance fetches from --store-region: adds its transfer time to each "
             "move and reports the egress paid (policies/egress.py list prices)")] = None,
    store_region: Annotated[str | None, typer.Option(
        help="where the checkpoint lives, CLOUD:REGION or REGION (aws), e.g. aws:us-east-1")] = None,
    workload: Annotated[Path | None, typer.Option(
        help="multi-job mode: a JSON file of jobs (hours, deadline_hours, submit_hours, gpus) replayed over "
             "the traces; prints totals per policy instead of the per-start table")] = None,
) -> None:
    """Mean and p90 cost relative to on-demand, deadline misses and changeovers, per policy.

    With --workload, the totals of a whole workload per policy instead (cost, misses, preemptions)."""
    from orchestrator.sim.runner import (
        ALL_POLICIES,
        SimulationArgumentError,
        check_arguments,
        format_table,
        run_simulation,
    )

    check_output(output)
    gravity = _gravity(checkpoint_gb, store_region)
    if mode not in ("single", "multi", "both"):
        raise CliError(f"unknown --mode {mode!r}; use single, multi or both", exit_code=2)
    if traces.exists() and not traces.is_dir():
        raise CliError(f"--traces must be a folder of trace files (one file per zone), but {traces} is a "
                       "file; pass the folder that holds it and select files with --pattern", exit_code=2)
    if workload is not None:
        if gravity is not None:
            raise CliError("--checkpoint-gb applies to the single-job replays, not a --workload", exit_code=2)
        if plot is not None:
            raise CliError("--plot draws the single-job deadline sweep; it does not combine with --workload",
                           exit_code=2)
        if history_hours is not None:
            raise CliError("--history-hours applies to the single-job replays; a --workload shares one history "
                           "from the trace's first tick", exit_code=2)
        _simulate_workload(traces, pattern, zones, _pricing(catalog, cloud, instance_type), workload, policy,
                           changeover_hours, output)
        return
    try:
        check_arguments(job_hours, deadline_hours, changeover_hours, starts, history_hours)  # before loading
    except SimulationArgumentError as exc:
        raise CliError(_as_options(str(exc)), exit_code=2) from None
    pricing = _pricing(catalog, cloud, instance_type)
    try:
        trace_set = _load_traces(traces, pattern, zones, pricing)
        policies = ALL_POLICIES if policy == "all" else tuple(policy.split(","))
        modes = ("single", "multi") if mode == "both" else (mode,)
        cache: dict = {}
        rows = run_simulation(trace_set, policies, work_hours=job_hours, deadline_hours=deadline_hours,
                              changeover_hours=changeover_hours, starts=starts, seed=seed, modes=modes,
                              views_cache=cache, history_hours=history_hours, gravity=gravity)
        if plot is not None:
            from orchestrator.sim.plot import plot_cost_vs_deadline

            sweep = _plot_deadlines(plot_deadlines, job_hours, deadline_hours)
            curve = list(rows)
            for extra in sweep:
                if extra != deadline_hours:
                    curve += run_simulation(trace_set, policies, work_hours=job_hours, deadline_hours=extra,
                                            changeover_hours=changeover_hours, starts=starts, seed=seed,
                                            modes=modes, views_cache=cache, history_hours=history_hours,
                                            gravity=gravity)
            plot_cost_vs_deadline(curve, plot, f"{trace_set.name}: C = {job_hours:g} h, {starts} starts")
    except SimulationArgumentError as exc:
        raise CliError(_as_options(str(exc)), exit_code=2) from None
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    if output == "json":
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(format_table(rows))


def _gravity(checkpoint_gb: float | None, store_region: str | None) -> DataGravity | None:
    """--checkpoint-gb and --store-region go together; sizes are finite and >= 0, clouds the table knows."""
    import math

    from orchestrator.sim.gravity import DataGravity
    from policies.egress import egress_table

    if checkpoint_gb is None and store_region is None:
        return None
    if checkpoint_gb is None or not store_region:
        raise CliError("--checkpoint-gb and --store-region go together (e.g. --checkpoint-gb 100 "
                       "--store-region aws:us-east-1)", exit_code=2)
    if not (math.isfinite(checkpoint_gb) and checkpoint_gb >= 0):
        raise CliError(f"--checkpoint-gb must be zero or more GB, not {checkpoint_gb:g}", exit_code=2)
    cloud, _, region = store_region.rpartition(":")
    cloud = (cloud or DataGravity.trace_cloud).lower()  # no cloud named: the traces' own
    table = egress_table()  # the clouds whose plugin declares egress prices
    if cloud not in table or not region.strip():
        raise CliError(f"--store-region {store_region!r}: write CLOUD:REGION with a cloud of "
                       f"{', '.join(table)}, e.g. aws:us-east-1", exit_code=2)
    return DataGravity(checkpoint_gb, cloud, region.strip())


def _pricing(catalog: Path | None, cloud: str | None, instance_type: str | None) -> tuple[Path, str, str] | None:
    """--catalog, --cloud and --instance-type go together; a partial set is a usage error, not a guess."""
    if catalog is None:
        if cloud or instance_type:
            raise CliError("--cloud and --instance-type only price a --catalog; pass the catalog too", exit_code=2)
        return None
    from orchestrator.catalog.vmscsv import catalog_clouds

    clouds = catalog_clouds()  # the clouds whose plugin declares a vms.csv variant
    if cloud not in clouds or not instance_type:
        named = f"{', '.join(clouds[:-1])} or {clouds[-1]}" if len(clouds) > 1 else ", ".join(clouds)
        raise CliError(f"--catalog needs --cloud ({named}) and --instance-type (e.g. p3.2xlarge)", exit_code=2)
    return catalog, cloud, instance_type


def _load_traces(traces: Path, pattern: str, zones: list[str] | None,
                 pricing: tuple[Path, str, str] | None) -> TraceSet:
    """The trace set, narrowed to --zones and priced from --catalog; price notes go to stderr."""
    from orchestrator.sim.prices import catalog_prices
    from orchestrator.sim.traces import load_trace_set

    trace_set = load_trace_set(traces, pattern)
    if zones:
        trace_set = trace_set.subset(zones)
    if pricing is None:
        return trace_set
    path, cloud, instance_type = pricing
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read --catalog {path}: {getattr(exc, 'strerror', None) or exc}") from None
    prices = catalog_prices(text, cloud, instance_type, trace_set.zones)
    for note in prices.notes:
        typer.echo(f"note: {note}", err=True)
    return trace_set.with_prices(prices.spot, prices.on_demand)


def _simulate_workload(traces: Path, pattern: str, zones: list[str] | None, pricing: tuple[Path, str, str] | None,
                       workload: Path, policy: str, changeover_hours: float, output: str) -> None:
    """Multi-job mode: every policy over the same workload, all zones of the set (or --zones) allowed."""
    from orchestrator.sim.runner import ALL_POLICIES, check_arguments
    from orchestrator.sim.workload import format_workload_table, load_workload, run_workload

    policies = ALL_POLICIES if policy == "all" else tuple(policy.split(","))
    unknown = sorted(set(policies) - set(ALL_POLICIES))
    if unknown:
        raise CliError(f"unknown --policy {', '.join(unknown)}; choose from {', '.join(ALL_POLICIES)} or 'all'",
                       exit_code=2)
    try:
        check_arguments(1.0, 1.0, changeover_hours, 1)
    except ValueError as exc:
        raise CliError(_as_options(str(exc)), exit_code=2) from None
    try:
        jobs = load_workload(workload)
        trace_set = _load_traces(traces, pattern, zones, pricing)
        views, outlooks = trace_set.zone_stats(), trace_set.outlooks()
        results = [run_workload(trace_set, jobs, p, changeover_hours=changeover_hours, views=views,
                                outlooks=outlooks) for p in policies]
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if output == "json":
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print(format_workload_table(results))


def _as_options(message: str) -> str:
    """The runner names its arguments in words; on the command line, name the options to change."""
    for words, option in (("job hours", "--job-hours"), ("deadline hours", "--deadline-hours"),
                          ("changeover hours", "--changeover-hours"), ("history hours", "--history-hours"),
                          ("starts", "--starts")):
        message = message.replace(words, option)
    return message


def _plot_deadlines(spec: str | None, job_hours: float, deadline_hours: float) -> list[float]:
    """The x axis of --plot. Default: the table's D and the slack D - C tripled and x8 (52, 60, 80 for 48/52)."""
    if spec:
        try:
            return sorted({float(x) for x in spec.split(",") if x.strip()})
        except ValueError:
            raise ValueError(f"--plot-deadlines wants hours like '52,60,80', got {spec!r}") from None
    slack = deadline_hours - job_hours
    return sorted({deadline_hours, job_hours + 3 * slack, job_hours + 8 * slack})
