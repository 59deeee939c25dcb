"""`Client.wait()`'s default progress: plain lines anywhere, plus one status line kept up to date in place when
running in a Jupyter kernel (IPython's display handle), and IPython never imported by the client itself."""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import pytest

from orchestrator.client.narrate import Story, WaitEvent
from orchestrator.client.progress import NotebookProgress, PlainProgress, default_progress

ATTEMPT = {"number": 1, "state": "RUNNING", "zone": "z-a", "instance_id": "i-1", "instance_type": "g4dn.xlarge",
           "spot": True, "price_per_hour": 0.2, "started_at": "t"}
RUNNING = {"id": "j-1", "state": "RUNNING", "reason": "", "restarts": 0, "cost_usd": 0.01, "attempts": 1,
           "exit_code": None, "attempt_list": [ATTEMPT]}
DONE = {**RUNNING, "state": "SUCCEEDED", "exit_code": 0, "attempt_list": [{**ATTEMPT, "state": "SUCCEEDED"}]}


def _events() -> list[WaitEvent]:
    story = Story()
    return [*story.events(RUNNING), WaitEvent("log", RUNNING, "a\nb\n", stream="stdout", data="a\nb\n"),
            WaitEvent("snapshot", RUNNING, "RUNNING"), *story.events(DONE), WaitEvent("snapshot", DONE, "SUCCEEDED"),
            WaitEvent("finished", DONE, "SUCCEEDED")]


def test_plain_progress_prints_the_story_the_output_and_a_summary() -> None:
    out = io.StringIO()
    show = PlainProgress(out)
    for event in _events():
        show(event)
    assert out.getvalue().splitlines() == [
        "attempt 1 started on instance i-1 (g4dn.xlarge spot, $0.20/h) in z-a",
        "  stdout a", "  stdout b",
        "job j-1 SUCCEEDED, exit code 0: cost $0.01, attempts 1"]


def test_in_a_notebook_one_status_line_is_updated_in_place(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    shown: list[tuple[str, dict[str, str]]] = []

    class Handle:
        def update(self, bundle: dict[str, str], raw: bool) -> None:
            assert raw
            shown.append(("update", bundle))

    def display(bundle: dict[str, str], raw: bool, display_id: bool) -> Handle:
        assert raw and display_id
        shown.append(("display", bundle))
        return Handle()

    class ZMQInteractiveShell:  # what a Jupyter kernel's get_ipython() returns
        pass

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = ZMQInteractiveShell  # type: ignore[attr-defined]
    display_module = types.ModuleType("IPython.display")
    display_module.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    show = default_progress()
    assert isinstance(show, NotebookProgress)
    for event in _events():
        show(event)
    assert shown == [("display", {"text/plain": "j-1: RUNNING on g4dn.xlarge in z-a  $0.01"}),
                     ("update", {"text/plain": "j-1: SUCCEEDED on g4dn.xlarge in z-a  $0.01"})]
    assert capsys.readouterr().out.splitlines()[-1] == "job j-1 SUCCEEDED, exit code 0: cost $0.01, attempts 1"


def test_outside_a_notebook_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    class TerminalInteractiveShell:
        pass

    ipython: Any = types.ModuleType("IPython")
    ipython.get_ipython = TerminalInteractiveShell
    assert type(default_progress()) is PlainProgress  # IPython not loaded: plain
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert type(default_progress()) is PlainProgress  # IPython's terminal shell: plain too
