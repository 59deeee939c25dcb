"""What `Client.wait()` shows when no callback is given: the job's story as plain text lines.

Why plain lines: a notebook cell, a script's log and a CI job all keep them, and no progress library is needed.
In a Jupyter notebook (IPython already loaded and its kernel the ZMQ shell) one extra status line is kept up to
date in place through IPython's display handle; IPython is never imported by this module, only used when the
notebook has already loaded it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from orchestrator.client.narrate import WaitEvent, status_line, summary_line


def _notebook_display() -> Any:
    """IPython's `display` when running in a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return None
    from IPython.display import display

    return display


class PlainProgress:
    """Prints each story line and each output line (prefixed by its stream, as `spotwise submit --wait`), and
    the summary at the end. `out` defaults to sys.stdout as it is when a line is printed."""

    def __init__(self, out: TextIO | None = None, logs: bool = True) -> None:
        self.out = out
        self.logs = logs

    def _print(self, line: str) -> None:
        out = self.out or sys.stdout
        out.write(line + "\n")
        out.flush()

    def __call__(self, event: WaitEvent) -> None:
        if event.kind == "log":
            if self.logs:
                for line in (event.data or "").splitlines():
                    self._print(f"  {event.stream or '':<6} {line}")
        elif event.kind == "finished":
            self._print(summary_line(event.job))
        elif event.kind != "snapshot":
            self._print(event.text)


class NotebookProgress(PlainProgress):
    """PlainProgress plus one status line updated in place (state, where, cost so far)."""

    def __init__(self, display: Callable[..., Any]) -> None:
        super().__init__()
        self._display = display
        self._handle: Any = None

    def __call__(self, event: WaitEvent) -> None:
        if event.kind == "snapshot":
            bundle = {"text/plain": status_line(event.job)}
            if self._handle is None:
                self._handle = self._display(bundle, raw=True, display_id=True)
            else:
                self._handle.update(bundle, raw=True)
            return
        super().__call__(event)


def default_progress() -> Callable[[WaitEvent], None]:
    """NotebookProgress in a Jupyter kernel, PlainProgress elsewhere."""
    display = _notebook_display()
    return NotebookProgress(display) if display is not None else PlainProgress()
