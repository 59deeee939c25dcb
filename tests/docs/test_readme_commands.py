"""Every command the README and docs/ show exists as shown, and the README's first job runs as written.

The conventions for blocks (```` ```sh ```` is checked, ```` ```sh run ```` is also run against a real daemon)
are in `tests/docs/shell_blocks.py`. Why: the README is the first thing a newcomer runs; a renamed flag or a
removed command should fail here, not in their terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from orchestrator.cli import app
from tests.docs.shell_blocks import Block, check, command_lines, invocations, sh_blocks
from tests.e2e.conftest import running_daemon

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [block for page in PAGES for block in sh_blocks(page)]
CLI = typer.main.get_command(app)
README_MAX_LINES = 350


def _problems(block: Block) -> list[str]:
    problems = []
    for line in command_lines(block.text):
        for argv in invocations(line, CLI):
            problems += [f"{block.where(ROOT)}: {line}\n    {p}" for p in check(CLI, argv)]
    return problems


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where(ROOT) for b in BLOCKS])
def test_every_documented_spotwise_command_and_flag_exists(block: Block) -> None:
    problems = _problems(block)
    assert not problems, "\n".join(problems)


def test_the_documentation_shows_spotwise_commands_at_all() -> None:
    """Guards the extraction itself: if the fence or the parsing broke, every block would pass vacuously."""
    shown = [argv for b in BLOCKS for line in command_lines(b.text) for argv in invocations(line, CLI)]
    assert len(shown) >= 40
    assert ["jobs", "list", "--state", "RUNNING", "--team", "vision", "-o", "json"] in shown
    assert any(b.runs for b in sh_blocks(README))


def test_commands_are_shown_only_in_sh_blocks() -> None:
    """A `spotwise` command in a ```bash or ```console block would escape every check here."""
    fence = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
    stray = [f"{page.relative_to(ROOT)}: ```{lang}" for page in PAGES for lang, body in fence.findall(page.read_text())
             if lang != "sh" and re.search(r"^\s*(\$ )?spotwise ", body, re.M)]
    assert not stray, f"spotwise commands outside ```sh blocks: {stray}"


def test_the_checker_fails_on_a_misspelt_flag_an_unknown_command_and_an_extra_argument() -> None:
    def problems(line: str) -> list[str]:
        return [p for argv in invocations(line, CLI) for p in check(CLI, argv)]

    assert problems("spotwise jobs list --state RUNNING -o json") == []
    assert "has no option --stat" in problems("spotwise jobs list --stat RUNNING")[0]
    assert "has no command 'job'" in problems("spotwise job list")[0]
    assert "takes 1 argument" in problems("spotwise jobs show JOB_ID EXTRA")[0]
    assert "needs FILE" in problems("spotwise submit --wait")[0]
    # the reference notation: optional parts and alternative subcommands of one group
    assert invocations("spotwise policy apply policy.yaml | show | diff FILE | history", CLI) == [
        ["policy", "apply", "policy.yaml"], ["policy", "show"], ["policy", "diff", "FILE"], ["policy", "history"]]
    assert "has no command 'shwo'" in problems("spotwise policy apply FILE | shwo")[0]
    assert problems("spotwise jobs list -o json | head -3") == []  # a real pipe into a program
    assert "has no option --colour" in problems("spotwise offers --gpu T4:1 [--colour red]")[0]
    assert invocations("printf %s x | spotwise secrets set NAME   # a comment --nope", CLI) == [
        ["secrets", "set", "NAME"]]
    assert invocations("JOB=$(spotwise submit job.yaml -o json | python3 -c 'print(1)')", CLI) == [
        ["submit", "job.yaml", "-o", "json"]]


def test_the_readme_stays_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/ (limit {README_MAX_LINES})"


def test_documented_make_targets_exist() -> None:
    targets = {line.split()[1] for b in BLOCKS for line in command_lines(b.text) if line.startswith("make ")}
    assert {"demo", "test"} <= targets
    for target in sorted(targets):
        result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"make {target}: {result.stderr}"


def _shim(bin_dir: Path) -> None:
    """`spotwise` on PATH as the README assumes, running this checkout's CLI with this interpreter."""
    bin_dir.mkdir()
    shim = bin_dir / "spotwise"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m orchestrator "$@"\n')
    shim.chmod(0o755)


def _run_page(page: Path, env: dict[str, str], port: int) -> tuple[int, list[str], str]:
    """All `sh run` blocks of one page in one shell, as a reader types them into one terminal (exports carry
    from block to block): (exit code, each block's stdout, everything printed)."""
    runs = [b for b in sh_blocks(page) if b.runs]
    marker = "::spotwise-docs-block::"
    script = "set -euo pipefail\n" + "\n".join(f"echo '{marker}{b.where(ROOT)}'\n{b.text}" for b in runs)
    script = script.replace("127.0.0.1:8470", f"127.0.0.1:{port}")
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    outputs = result.stdout.split(marker)[1:]
    where = outputs[-1].splitlines()[0] if outputs else f"{page.relative_to(ROOT)}, before its first block"
    if result.returncode == 0:
        assert len(outputs) == len(runs)
    return result.returncode, outputs, f"the block at {where} failed:\n{result.stdout}\n{result.stderr}"


def test_the_run_blocks_succeed_against_a_real_daemon(tmp_path: Path) -> None:
    """The README's first, then every docs page's `sh run` blocks, against one daemon on SQLite + local."""
    home = tmp_path / "home"
    _shim(tmp_path / "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTWISE_")}
    env.update(HOME=str(home), PATH=f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200")
    pages = [p for p in PAGES if any(b.runs for b in sh_blocks(p))]
    assert pages[0] == README
    with running_daemon(home / ".spotwise") as daemon:
        env["SPOTWISE_PORT"] = str(daemon.port)  # the reader's daemon listens on the default port; ours cannot
        results = [(page, *_run_page(page, env, daemon.port)) for page in pages]
        jobs = daemon.api("GET", "/v1/jobs")["items"]
    for _page, code, _outputs, failure in results:
        assert code == 0, failure
    readme_outputs = results[0][2]
    assert "SUCCEEDED" in readme_outputs[0]  # the first job, followed with --wait, ended as the README says
    assert len(jobs) == 2 and {j["state"] for j in jobs} == {"SUCCEEDED"}, jobs
