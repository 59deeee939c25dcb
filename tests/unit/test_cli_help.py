"""Every command and every option of the CLI says what it does in `--help`, and defaults are shown.

Why: `--help` is the second thing a newcomer reads after the README; `instances list`, `tokens revoke` and
`alerts list --kind` used to show a bare name.
"""

from __future__ import annotations

from typing import Any

import typer

from orchestrator.cli import app


def _leaves(cmd: Any, path: list[str]) -> list[tuple[str, Any]]:
    if hasattr(cmd, "commands"):
        return [leaf for name, sub in cmd.commands.items() for leaf in _leaves(sub, [*path, name])]
    return [(" ".join(path), cmd)]


def test_every_command_and_option_has_a_description() -> None:
    bare = []
    for path, cmd in _leaves(typer.main.get_command(app), []):
        if not (cmd.help or "").strip():
            bare.append(f"spotwise {path}")
        bare += [f"spotwise {path} {'/'.join(p.opts)}" for p in cmd.params
                 if type(p).__name__ == "TyperOption" and not (p.help or "").strip()]
    assert not bare, "without a description in --help: " + ", ".join(bare)


def test_defaults_are_shown() -> None:
    for path, cmd in _leaves(typer.main.get_command(app), []):
        for p in cmd.params:
            assert p.show_default is not False, f"spotwise {path} {p.name} hides its default"
