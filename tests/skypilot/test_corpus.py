"""Every corpus task file maps to a valid Spotwise job spec, or is refused with the named problem it expects."""

from __future__ import annotations

import pytest

from orchestrator.formats.strictyaml import load_strict
from orchestrator.jobs.specfile import SpecError
from orchestrator.skypilot import detect_format, load_job_file
from tests.skypilot.corpus import TaskFile, corpus_files, example_files

FILES = corpus_files()


def test_the_corpus_covers_both_outcomes() -> None:
    mapped = [f for f in FILES if f.error is None]
    refused = [f for f in FILES if f.error is not None]
    assert len(mapped) >= 15 and len(refused) >= 15, (len(mapped), len(refused))


@pytest.mark.parametrize("task", FILES + example_files(), ids=lambda t: t.path.name)
def test_task_file_maps_or_is_refused_by_name(task: TaskFile) -> None:
    if task.error is None:
        spec = load_job_file(task.path, "skypilot", cwd=task.cwd)
        assert spec.run
        return
    with pytest.raises(SpecError) as refused:
        load_job_file(task.path, "skypilot", cwd=task.cwd)
    problems = refused.value.problems
    assert any(task.error in p for p in problems), problems
    assert all(p.startswith("SkyPilot task: ") for p in problems)


@pytest.mark.parametrize("task", [f for f in FILES + example_files() if f.path.name != "minimal.yaml"],
                         ids=lambda t: t.path.name)
def test_auto_detection_recognises_each_task(task: TaskFile) -> None:
    """`spotwise submit task.yaml` without --format: every file but the bare `run:` one carries a SkyPilot-only
    sign (the bare one has no name, which a Spotwise spec needs, so it is read as SkyPilot's too)."""
    assert detect_format(load_strict(task.path.read_text()), task.path.name) == "skypilot"


def test_a_bare_run_task_is_skypilot_and_named_after_its_file() -> None:
    [minimal] = [f for f in FILES if f.path.name == "minimal.yaml"]
    spec = load_job_file(minimal.path, cwd=minimal.cwd)
    assert spec.name == "minimal" and spec.run == 'echo "hello, SkyPilot!"'
