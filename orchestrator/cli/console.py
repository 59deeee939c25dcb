"""The CLI's rich consoles: one place that decides how wide output may be."""

from __future__ import annotations

import os

from rich.console import Console

#: Width for output that is not a terminal (a pipe, a file, a CI log). Rich's default there is 80 columns, which
#: hard-wrapped table rows and error messages mid-word: `spotwise jobs list | grep RUNNING` then matched half a
#: row. Tables are as wide as their content, so this is a cap, not padding.
PIPE_WIDTH = 1000


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr). In a terminal rich fits its width; elsewhere lines are not wrapped
    unless COLUMNS says how wide to be."""
    console = Console(stderr=stderr)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(stderr=stderr, width=PIPE_WIDTH)
    return console
