"""`spotwise.Client`: the Python client of the Spotwise API, and the one the `spotwise` CLI is built on.

Why one client: the CLI and a notebook make the same calls, and every fix (ids escaped into URL segments, a
token checked before it reaches the HTTP library, errors that carry the API's code) should serve both. Light at
import: the standard library and the client's own modules; the job model (pydantic) is imported only when a
spec file or a `JobSpec` is submitted, the HTTP transport on the first request.

Answers are the API's JSON as plain dicts and lists (the aliases in `orchestrator/client/types.py` name them);
docs/client.md lists their fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.client.errors import Invalid, SettingsError, UsageError, WaitTimeout
from orchestrator.client.http import Http, segment
from orchestrator.client.narrate import WaitEvent
from orchestrator.client.types import CostReport, DryRun, Job, JobEvent, JobPage, LogChunk, LogPage, OfferPage

if TYPE_CHECKING:
    from orchestrator.client.settings import Endpoint
    from orchestrator.jobs.models import JobSpec

#: A job in one of these states never changes again.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def _as_list(value: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    if value is None or isinstance(value, str):
        return None if not value else [value]
    return list(value) or None


def _time(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class Client:
    """A client of one Spotwise daemon.

    `url` and `token` default to SPOTWISE_URL and SPOTWISE_TOKEN, then to the CLI's config file
    ($SPOTWISE_CONFIG or $SPOTWISE_HOME/config.yaml), then to http://127.0.0.1:8470 and the admin token a
    local daemon wrote into its home: the same as the `spotwise` command. Every call raises a `SpotwiseError`
    subclass on failure (see orchestrator/client/errors.py).
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0,
                 transport: Any = None) -> None:
        if url is None or token is None:
            from orchestrator.client.settings import load_client_settings, resolve_token
            from orchestrator.configfile import ConfigError

            try:
                found = load_client_settings()
            except ConfigError as exc:
                raise SettingsError(str(exc)) from None
            url = url or found.effective_url
            token = resolve_token(found) if token is None else token
        from orchestrator.client.settings import check_token

        self.http = Http(url, check_token(token, "the token"), timeout, transport)

    @classmethod
    def from_settings(cls, settings: Endpoint, *, timeout: float = 30.0) -> Client:
        """A client for these settings (the CLI's `ClientSettings` or the daemon's `Settings`)."""
        from orchestrator.client.settings import resolve_token

        return cls(settings.effective_url, resolve_token(settings), timeout=timeout)

    @property
    def url(self) -> str:
        """The daemon's base URL."""
        return self.http.url

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # -- raw calls: every endpoint, for what the methods below do not cover (tokens, policies, secrets, ...) --

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """`method path` (e.g. "GET", "/v1/instances") with the transport's keywords (params, json, content,
        headers); the JSON answer."""
        return self.http.request(method, path, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        """GET `path` with query parameters (None values left out); the JSON answer."""
        return self.http.get(path, **params)

    def post(self, path: str, body: Any = None) -> Any:
        """POST a JSON body to `path`; the JSON answer."""
        return self.http.post(path, body)

    # -- jobs --

    def submit(self, spec: str | Path | dict[str, Any] | JobSpec) -> Job:
        """Queue a job; the job as the API answers (id, name, team, state, ...).

        `spec` is a path to a YAML or JSON spec file (checked here first, its `workdir:` packed and uploaded,
        as `spotwise submit` does), a dict (sent as is: the daemon checks it and answers `Invalid` with its
        problems) or a `JobSpec`.
        """
        return self.http.post("/v1/jobs", self._body(spec))  # type: ignore[no-any-return]

    def dry_run(self, spec: str | Path | dict[str, Any] | JobSpec) -> DryRun:
        """Where the job would go now (best offers, reason), checked like a submission; nothing is queued."""
        body = self._body(spec, upload=False)
        return self.http.request("POST", "/v1/jobs", params={"dry_run": "true"}, json=body)  # type: ignore[no-any-return]

    def _body(self, spec: Any, upload: bool = True) -> dict[str, Any]:
        if isinstance(spec, dict):
            return spec
        if isinstance(spec, str | Path):
            path = Path(spec)
            from orchestrator.jobs.specfile import SpecError, load_spec_file

            try:
                model = load_spec_file(path)
            except SpecError as exc:
                raise Invalid(f"{exc.source}: invalid job spec: " + "; ".join(exc.problems), code="invalid_spec",
                              details=exc.problems) from None
            return self._spec_body(model, path.parent, upload)
        if hasattr(spec, "model_dump"):
            return self._spec_body(spec, Path.cwd(), upload)
        raise UsageError(f"a job spec is a file path, a dict or a JobSpec, not {type(spec).__name__}")

    def _spec_body(self, spec: JobSpec, base: Path, upload: bool) -> dict[str, Any]:
        if upload and spec.workdir and spec.workdir_ref is None:
            from orchestrator.client.workdir import attach_workdir

            spec = attach_workdir(self.http, None, spec, base, lambda _line: None)
        return spec.model_dump(mode="json", exclude_unset=True)

    def job(self, job_id: str) -> Job:
        """One job with its attempts (`attempt_list`), energy and, while it waits on a budget, `budget_wait`."""
        return self.http.get(f"/v1/jobs/{segment(job_id, 'job id')}")  # type: ignore[no-any-return]

    def events(self, job_id: str) -> list[JobEvent]:
        """A job's state changes and other events, oldest first."""
        return self.http.get(f"/v1/jobs/{segment(job_id, 'job id')}/events")["items"]  # type: ignore[no-any-return]

    def list_jobs(self, *, state: str | list[str] | None = None, team: str | None = None, name: str | None = None,
                  limit: int = 50, before: int | None = None) -> JobPage:
        """Jobs, newest first: {"items": [...], "next_before": N or None}; pass `before=next_before` for the
        next page. `state` is one state or several (e.g. "RUNNING"); `team` needs an admin token."""
        states = _as_list(state)
        return self.http.get("/v1/jobs", state=[s.upper() for s in states] if states else None,  # type: ignore[no-any-return]
                             team=team, name=name, limit=limit, before=before)

    def cancel(self, job_id: str) -> Job:
        """Cancel a job (its instance is terminated by the next reconcile pass); `Conflict` if it already ended."""
        return self.http.post(f"/v1/jobs/{segment(job_id, 'job id')}/cancel")  # type: ignore[no-any-return]

    def log_page(self, job_id: str, after: int = 0) -> LogPage:
        """Output chunks after cursor `after`: {"items", "cursor" (pass it as `after` next), "final"}."""
        return self.http.get(f"/v1/jobs/{segment(job_id, 'job id')}/logs", after=after)  # type: ignore[no-any-return]

    def logs(self, job_id: str, *, follow: bool = False, poll: float = 1.0) -> Iterator[LogChunk]:
        """A job's output chunks ({"stream", "data", "attempt", "at"}) in order; with `follow`, keeps polling
        every `poll` seconds until the job has ended and its output is all read."""
        path = f"/v1/jobs/{segment(job_id, 'job id')}/logs"  # a bad id is refused now, not at the first next()

        def chunks() -> Iterator[LogChunk]:
            cursor = 0
            while True:
                page = self.http.get(path, after=cursor)
                yield from page["items"]
                cursor = page["cursor"]
                if not follow or (page["final"] and not page["items"]):
                    return
                if not page["items"]:
                    time.sleep(poll)

        return chunks()

    def wait(self, job_id: str, callback: Callable[[WaitEvent], None] | None = None, *, poll: float = 1.0,
             timeout: float | None = None, progress: bool | None = None) -> Job:
        """Follow a job until it ends and its output is all read; the final job.

        `callback` gets every `WaitEvent` in order: the story `spotwise submit --wait` tells (attempts started,
        "preempted" and where it resumed, waits with their reason), each output chunk ("log"), a "snapshot"
        every poll and "finished" last. `progress` (default: on when there is no callback) prints that story as
        plain lines to stdout, with a live status line in a Jupyter notebook. With `timeout` (seconds),
        `WaitTimeout` when the job has not ended by then; the job keeps running either way.
        """
        if not poll > 0 or (timeout is not None and not timeout >= 0):
            raise UsageError("poll must be above 0 and timeout 0 or more seconds")
        from orchestrator.client.narrate import Story

        sinks: list[Callable[[WaitEvent], None]] = [callback] if callback is not None else []
        if progress or (progress is None and callback is None):
            from orchestrator.client.progress import default_progress

            sinks.append(default_progress())
        give_up = None if timeout is None else time.monotonic() + timeout
        path = f"/v1/jobs/{segment(job_id, 'job id')}"
        story, cursor = Story(), 0
        while True:
            job: Job = self.http.get(path)
            events = story.events(job)
            page = self.http.get(f"{path}/logs", after=cursor)
            cursor = page["cursor"]
            events += [WaitEvent("log", job, item["data"], stream=item["stream"], data=item["data"])
                       for item in page["items"]]
            events.append(WaitEvent("snapshot", job, job["state"]))
            done = job["state"] in FINAL_STATES and page["final"] and not page["items"]
            if done:
                events.append(WaitEvent("finished", job, job["state"]))
            for event in events:
                for sink in sinks:
                    sink(event)
            if done:
                return job
            if give_up is not None and time.monotonic() > give_up:
                raise WaitTimeout(f"job {job_id} is still {job['state']} after {timeout:g}s: "
                                  f"{job.get('reason') or '-'}", job)
            time.sleep(poll)

    # -- money and capacity --

    def costs(self, *, by: str = "team", since: datetime | str | None = None, until: datetime | str | None = None,
              energy: bool = False) -> CostReport:
        """Spend from the cost ledger grouped `by` team, project, job, attempt, cloud, region or day:
        {"by", "items", "total_usd"} (with `energy`, kWh and kg CO2e too). Times need a timezone."""
        params: dict[str, Any] = {"by": by, "since": _time(since), "until": _time(until)}
        if energy:
            params["energy"] = "true"
        return self.http.get("/v1/costs", **params)  # type: ignore[no-any-return]

    def offers(self, *, gpu: str | None = None, cloud: str | list[str] | None = None,
               region: str | list[str] | None = None, zone: str | list[str] | None = None,
               spot: bool | None = None, max_price: float | None = None, min_vcpus: float | None = None,
               min_memory_gb: float | None = None, limit: int = 20, carbon_price: float = 0.0) -> OfferPage:
        """The cheapest offers matching the filters across clouds, cheapest first: {"items", "offers_cached"}.
        `gpu` is MODEL[:COUNT] (e.g. "A100:8"); `spot` None means both markets."""
        params: dict[str, Any] = {
            "gpu": gpu, "cloud": _as_list(cloud), "region": _as_list(region), "zone": _as_list(zone),
            "market": "any" if spot is None else ("spot" if spot else "on-demand"), "max_price": max_price,
            "min_vcpus": min_vcpus, "min_memory_gb": min_memory_gb, "limit": limit,
        }
        if carbon_price:
            params["carbon_price"] = carbon_price
        return self.http.get("/v1/offers", **params)  # type: ignore[no-any-return]

    def offers_for(self, job_id: str, *, limit: int = 20) -> dict[str, Any]:
        """A job's offers ranked by expected total cost to finish (egress, transfer time, interruptions):
        {"items" (each with its breakdown), "data" (what must move), "horizon", "winner_reason", ...}."""
        return self.http.get("/v1/offers", for_job=job_id, limit=limit)  # type: ignore[no-any-return]
