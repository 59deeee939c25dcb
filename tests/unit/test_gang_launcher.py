"""Multi-node (gang) jobs through the real Launcher and Reconciler on a real SQLite file, with scriptable fake clouds:
placement of N nodes on one offer, all-or-none launch with failover, crash repair with the same keys, price caps
over N x price, and the loss of any node ending the whole gang."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestrator.config import Settings
from orchestrator.jobs import transitions as T
from orchestrator.jobs.attempts import create_attempt
from orchestrator.jobs.models import JobSpec
from orchestrator.jobs.queue import job_by_id, submit
from orchestrator.jobs.specfile import SpecError, load_spec_file, parse_spec
from orchestrator.provisioning.reconcile import Reconciler
from orchestrator.runtime import Runtime, build_runtime
from orchestrator.spending import policy_store
from orchestrator.spending.budget import sweep_budgets
from orchestrator.spending.caps import sweep_caps
from orchestrator.store.db import transaction
from orchestrator.store.tables import Attempt, Instance, JobEvent
from orchestrator.tokens import authenticate_bootstrap_token
from providers.base import AgentBootstrap, InstanceInfo, InstanceState, LaunchSpec, ThrottledError
from tests.fakes.provider import FakeProvider, make_offer

A_POOL = ("cheap", "c1", "c1-a", "gpu.small", True)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    wheel = tmp_path / "spotwise-0-py3-none-any.whl"  # a stand-in: these fake clouds never install it
    wheel.write_bytes(b"not built: saves the 5 s wheel build per test")
    runtime = build_runtime(Settings(home=tmp_path, providers={}, agent_wheel=str(wheel)), with_providers=False)
    cheap = FakeProvider("cheap", [make_offer("cheap", "c1-a", 0.10), make_offer("cheap", "c1-b", 0.12)])
    dear = FakeProvider("dear", [make_offer("dear", "d1-a", 0.30)])
    runtime.providers = {"cheap": cheap, "dear": dear}  # type: ignore[dict-item]
    yield runtime
    runtime.close()


def _submit(rt: Runtime, nodes: int, team: str = "default", **resources: object) -> str:
    spec = JobSpec(name="g", run="true", team=team, resources={  # type: ignore[arg-type]
        "accelerators": "T4:1", "spot": True, "num_nodes": nodes, **resources})
    with transaction(rt.sessions) as s:
        return submit(s, spec).id


def _rows(rt: Runtime, job_id: str) -> tuple[str, list[Attempt], list[Instance], list[str]]:
    with transaction(rt.sessions) as s:
        state = job_by_id(s, job_id).state
        attempts = list(s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)))
        rows = list(s.scalars(select(Instance).where(Instance.job_id == job_id).order_by(Instance.launched_at,
                                                                                          Instance.node)))
        events = [e.reason for e in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))]
        return state, attempts, rows, events


def _fake(rt: Runtime, name: str) -> FakeProvider:
    return rt.providers[name]  # type: ignore[return-value]


def test_num_nodes_is_validated_with_a_clear_message() -> None:
    assert JobSpec(name="x", run="true").resources.num_nodes == 1
    for bad, words in [(0, "0 nodes is out of range; a job runs on 1 to 64 nodes"), (65, "1 to 64"),
                       ("two", "'two' is not a node count"), (True, "not a node count"), (1.5, "not a node count")]:
        with pytest.raises(SpecError) as err:
            parse_spec({"name": "x", "run": "true", "resources": {"num_nodes": bad}})
        assert err.value.problems[0].startswith("resources.num_nodes: ") and words in err.value.problems[0]


def test_the_multi_node_example_is_a_valid_gang_spec() -> None:
    spec = load_spec_file(Path(__file__).resolve().parents[2] / "examples" / "gang-allreduce.yaml")
    assert spec.resources.num_nodes == 2 and spec.resources.max_price_per_hour == 1.0


def test_gang_lands_every_node_on_one_offer_with_its_own_key_tag_and_token(rt: Runtime) -> None:
    job_id = _submit(rt, 3)
    assert Reconciler(rt).run_once().launched == 1
    state, [attempt], rows, events = _rows(rt, job_id)
    assert state == "PROVISIONING" and attempt.state == "LAUNCHED" and attempt.nodes == 3
    assert [(r.node, r.zone, r.attempt_id) for r in rows] == [(n, "c1-a", attempt.id) for n in range(3)]
    launches = _fake(rt, "cheap").launches
    assert [s.idempotency_key for s in launches] == [f"{attempt.idempotency_key}-{n}" for n in range(3)]
    assert [s.tags["spotwise-node"] for s in launches] == ["0", "1", "2"]
    principals = [authenticate_bootstrap_token(rt.agent_secret, s.bootstrap.token) for s in launches]
    assert [(p.attempt_id, p.node) for p in principals] == [(attempt.id, n) for n in range(3)]
    assert any("3 x T4" not in e and "3 x gpu.small in c1-a, $0.3000/h in all" in e for e in events)
    assert any(e.startswith("launched cheap 3-node gang ") for e in events)


def test_capacity_error_on_node_k_releases_the_partial_gang_and_fails_over(rt: Runtime) -> None:
    cheap = _fake(rt, "cheap")
    cheap.capacity[A_POOL] = 1  # room for one node only: node 1 fails, node 0 must be released
    job_id = _submit(rt, 2)
    Reconciler(rt).run_once()
    state, attempts, rows, events = _rows(rt, job_id)
    assert state == "PROVISIONING"
    assert [(a.zone, a.state) for a in attempts] == [("c1-a", "LAUNCH_FAILED"), ("c1-b", "LAUNCHED")]
    first = [r for r in rows if r.attempt_id == attempts[0].id]
    assert [(r.node, r.ended_at is not None) for r in first] == [(0, True)]  # recorded, then closed on release
    assert cheap.instances[first[0].id].state is InstanceState.TERMINATED
    assert [(r.node, r.zone, r.ended_at) for r in rows if r.attempt_id == attempts[1].id] == [
        (0, "c1-b", None), (1, "c1-b", None)]
    assert any("CapacityError on 2 x cheap spot gpu.small in c1-a" in e
               and "(gang node 1 of 2 failed; released node(s) 0)" in e for e in events), events
    assert any(e.startswith("failover: 2 x gpu.small in c1-b") for e in events)


def test_price_caps_count_every_node(rt: Runtime) -> None:
    # $0.22/h for the whole 2-node job: only the $0.10 pool fits (2 x 0.12 = 0.24 does not)
    job_id = _submit(rt, 2, max_price_per_hour=0.22)
    _fake(rt, "cheap").capacity[A_POOL] = 0
    Reconciler(rt).run_once()
    state, attempts, _, events = _rows(rt, job_id)
    assert state == "WAITING_CAPACITY" and [a.zone for a in attempts] == ["c1-a"]
    assert "at or under $0.11/h per node (2 nodes)" in events[-1] or "none launched" in events[-1]
    assert all(s.max_price_per_hour == pytest.approx(0.11) for s in _fake(rt, "cheap").launches)


class CrashingProvider(FakeProvider):
    """Raises `error` (by default: dies, as a kill -9 would stop the daemon) when node `crash_at` is asked for, once."""

    crash_at: int = 1
    error: BaseException = KeyboardInterrupt("daemon killed mid-gang")

    def launch(self, spec: LaunchSpec) -> InstanceInfo:
        if spec.tags.get("spotwise-node") == str(self.crash_at) and self.crash_at >= 0:
            self.crash_at = -1
            raise self.error
        return super().launch(spec)


def test_a_daemon_killed_mid_gang_leaves_every_launched_node_tracked_and_relaunches_with_the_same_keys(
        rt: Runtime) -> None:
    crashing = CrashingProvider("cheap", [make_offer("cheap", "c1-a", 0.10)])
    rt.providers = {"cheap": crashing}  # type: ignore[dict-item]
    job_id = _submit(rt, 3)
    with pytest.raises(KeyboardInterrupt):
        Reconciler(rt).run_once()
    _, [attempt], rows, _ = _rows(rt, job_id)
    assert attempt.state == "LAUNCHING" and [(r.node, r.ended_at) for r in rows] == [(0, None)]  # node 0 tracked
    before = set(crashing.instances)
    report = Reconciler(rt).run_once()  # a fresh daemon: re-issue the launch with the same keys
    assert report.orphans_terminated == 0
    _, [attempt], rows, _ = _rows(rt, job_id)
    assert attempt.state == "LAUNCHED" and [r.node for r in rows] == [0, 1, 2]
    assert before <= set(crashing.instances) and len(crashing.instances) == 3  # node 0 was not launched twice
    assert all(i.state is InstanceState.RUNNING for i in crashing.instances.values())


def _running_gang(rt: Runtime, nodes: int) -> tuple[str, Attempt, list[Instance]]:
    job_id = _submit(rt, nodes)
    Reconciler(rt).run_once()
    _, [attempt], rows, _ = _rows(rt, job_id)
    return job_id, attempt, rows


def test_losing_any_node_ends_the_gang_terminates_the_rest_and_requeues(rt: Runtime) -> None:
    job_id, attempt, rows = _running_gang(rt, 3)
    cheap = _fake(rt, "cheap")
    cheap.instances[rows[1].id] = replace(cheap.instances[rows[1].id], state=InstanceState.TERMINATED,
                                          preempted=True)
    report = Reconciler(rt).run_once()
    assert report.ended == 1
    state, attempts, all_rows, events = _rows(rt, job_id)
    assert attempts[0].state == "PREEMPTED" and "node 1 of 3: spot instance preempted; the whole gang stopped" in \
        attempts[0].end_reason
    assert all(cheap.instances[r.id].state is InstanceState.TERMINATED for r in rows)
    first = {r.node: r for r in all_rows if r.attempt_id == attempt.id}
    assert all(r.ended_at is not None for r in first.values())
    assert [first[n].preempted for n in range(3)] == [False, True, False]  # only the reclaimed node
    assert len(attempts) == 2 and attempts[1].nodes == 3 and state == "PROVISIONING"  # a new gang


def test_a_node_that_exited_zero_is_done_not_lost(rt: Runtime) -> None:
    job_id, attempt, rows = _running_gang(rt, 2)
    cheap = _fake(rt, "cheap")
    with transaction(rt.sessions) as s:
        s.get(Instance, (rows[1].id, "cheap")).exit_code = 0  # type: ignore[union-attr]
    cheap.instances[rows[1].id] = replace(cheap.instances[rows[1].id], state=InstanceState.TERMINATED)
    assert Reconciler(rt).run_once().ended == 0
    _, [again], _, _ = _rows(rt, job_id)
    assert again.state == "LAUNCHED" and cheap.instances[rows[0].id].state is InstanceState.RUNNING


def test_a_silent_node_ends_the_gang_after_the_timeout(rt: Runtime) -> None:
    rt.settings.provisioning_timeout_seconds = 0.0
    job_id, attempt, rows = _running_gang(rt, 2)
    Reconciler(rt).run_once()
    _, attempts, _, _ = _rows(rt, job_id)
    assert attempts[0].state == "LOST" and "node 0 of 2: agent never reported for 0s" in attempts[0].end_reason
    assert all(_fake(rt, "cheap").instances[r.id].state is InstanceState.TERMINATED for r in rows)


def test_a_transient_error_mid_gang_keeps_the_launched_nodes_for_the_retry(rt: Runtime) -> None:
    flaky = CrashingProvider("cheap", [make_offer("cheap", "c1-a", 0.10)])
    flaky.error = ThrottledError("slow down", provider="cheap")
    rt.providers = {"cheap": flaky}  # type: ignore[dict-item]
    job_id = _submit(rt, 2)
    Reconciler(rt).run_once()
    _, [attempt], rows, _ = _rows(rt, job_id)
    assert attempt.state == "LAUNCHING" and [r.node for r in rows] == [0]
    assert flaky.instances[rows[0].id].state is InstanceState.RUNNING  # not released: the retry reuses it
    Reconciler(rt).run_once()
    _, [attempt], rows, _ = _rows(rt, job_id)
    assert attempt.state == "LAUNCHED" and [r.node for r in rows] == [0, 1] and len(flaky.instances) == 2


def test_a_gang_whose_released_node_comes_back_dead_starts_a_new_gang(rt: Runtime) -> None:
    job_id = _submit(rt, 2)
    cheap = _fake(rt, "cheap")
    with transaction(rt.sessions) as s:  # as if a crash lost the end of an attempt whose node 0 was released
        job = job_by_id(s, job_id)
        attempt = create_attempt(s, job, cheap.offers[0], 2)
        T.start_provisioning(s, job, attempt.id, "test")
        key, attempt_id = attempt.idempotency_key, attempt.id
    spec = LaunchSpec(idempotency_key=f"{key}-0", cluster_id=rt.cluster_id, job_id=job_id, attempt_id=attempt_id,
                      offer=cheap.offers[0], bootstrap=AgentBootstrap(api_url="http://x", attempt_id=attempt_id,
                                                                      token="t"))
    cheap.terminate([cheap.launch(spec).id])
    Reconciler(rt).run_once()
    _, attempts, _, events = _rows(rt, job_id)
    assert attempts[0].state == "LAUNCH_FAILED" and "gang node(s) [0]" in attempts[0].end_reason
    assert attempts[1].state == "LAUNCHED" and attempts[1].idempotency_key != key  # fresh keys: live nodes


def test_reconcile_finishes_a_gang_whose_nodes_all_exited_zero(rt: Runtime) -> None:
    job_id, attempt, rows = _running_gang(rt, 2)
    with transaction(rt.sessions) as s:  # both exits recorded, the attempt's end missed (the API normally ends it)
        for row in rows:
            s.get(Instance, (row.id, "cheap")).exit_code = 0  # type: ignore[union-attr]
    Reconciler(rt).run_once()
    state, [done], _, _ = _rows(rt, job_id)
    assert (state, done.state, done.end_reason) == ("SUCCEEDED", "SUCCEEDED", "all 2 nodes exited 0")


def test_policy_price_cap_is_for_the_whole_gang(rt: Runtime) -> None:
    with transaction(rt.sessions) as s:
        policy_store.apply(s, "caps:\n  - scope: global\n    max_price_per_hour: 0.22\n")
    _fake(rt, "cheap").capacity[A_POOL] = 0  # the only pool under $0.11/node is full
    job_id = _submit(rt, 2)
    Reconciler(rt).run_once()
    state, attempts, _, events = _rows(rt, job_id)
    assert state == "WAITING_CAPACITY" and [a.zone for a in attempts] == ["c1-a"]  # never c1-b ($0.24 for two)


@pytest.mark.parametrize("sweep", ["caps", "budgets"])
def test_cost_cap_and_budget_sweeps_count_every_node(rt: Runtime, sweep: str) -> None:
    """$0.0012 committed over the next 30 s: one $0.10/h node commits $0.00083 (no stop), two commit $0.00167."""
    policy = ("caps:\n  - scope: team:g\n    max_cost_per_job: 0.0012\n" if sweep == "caps" else
              "budgets:\n  - name: tight\n    scope: team:g\n    period: total\n    limit_usd: 0.0012\n"
              "    thresholds:\n      - {percent: 100, action: stop}\n")
    with transaction(rt.sessions) as s:
        policy_store.apply(s, policy)
    run = sweep_caps if sweep == "caps" else sweep_budgets
    single = _submit(rt, 1, team="g")
    Reconciler(rt).run_once()
    assert not run(rt.sessions, rt.providers, 30, grace_s=0).stopped  # type: ignore[operator]
    with transaction(rt.sessions) as s:  # the single-node job is done: only the gang is in the scope now
        T.cancel(s, job_by_id(s, single), "test")
    Reconciler(rt).run_once()
    gang = _submit(rt, 2, team="g")
    Reconciler(rt).run_once()
    assert list(run(rt.sessions, rt.providers, 30, grace_s=0).stopped) == [gang]  # type: ignore[operator]
