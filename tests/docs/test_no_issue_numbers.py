"""No tracked file names a work item by its number: code, comments, docs and file names name the concept instead.

Why: the tracker those numbers pointed into is not part of the project, so "see item 13" tells a reader two years
from now nothing, while "workdirs" or "gangs" tells them where to look. The check runs `git grep` over the tracked
tree (working-tree contents, so uncommitted edits count) and matches each candidate line with `REFERENCE`, which is
stricter than a plain `issue[ -_]?[0-9]` ERE: there `[ -_]` is the range space..underscore (`#`, `.`, digits,
capitals...), and nothing stops it matching inside a longer word. Here the word stands alone (not "tissue",
"reissue"), may be plural, and is followed by at most a space, hyphen, underscore, `#` or "no." before the digit.
Words that only start the same way ("issued 2026", "issue_token") and links into other projects' trackers
(`.../issues/92`) are legitimate and pass. A CHANGELOG, if one is ever added, is the one place numbers may stay.
Skipped, saying why, where git is not installed or the tree is not a git checkout (an unpacked sdist).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: A work-item reference: the standalone word, optional plural, an optional separator, then a number.
REFERENCE = re.compile(r"(?<![a-z])issues?(?:[ _-]|[ ]?(?:#|no\.?)[ ]?)?\d", re.IGNORECASE)
#: Paths allowed to keep numbers (release notes conventionally cite them).
EXEMPT = re.compile(r"(^|/)CHANGELOG(\.[a-z]+)?$", re.IGNORECASE)


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def checkout() -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot list the tracked files")
    inside = _git("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        pytest.skip(f"{ROOT} is not a git checkout: no tracked tree to search")


def _offending_lines() -> list[str]:
    """`path:line: text` for each tracked line holding a reference. git grep does the cheap literal pre-filter
    (case-insensitive, binary files skipped); the exact rule is `REFERENCE`, applied here so that it does not
    depend on which regex flavour this git was built with."""
    found = _git("grep", "-n", "-I", "-i", "-F", "-e", "issue")
    if found.returncode not in (0, 1):  # 1: no line at all
        pytest.fail(f"git grep failed: {found.stderr.strip()}")
    hits = []
    for line in found.stdout.splitlines():
        path, _, rest = line.partition(":")
        number, _, text = rest.partition(":")
        if not EXEMPT.search(path) and REFERENCE.search(text):
            hits.append(f"{path}:{number}: {text.strip()}")
    return hits


def test_no_tracked_line_cites_an_issue_number(checkout: None) -> None:
    hits = _offending_lines()
    assert not hits, ("name the concept (gangs, workdirs, secrets, replicas, energy, ...) instead of a work-item "
                      "number:\n" + "\n".join(hits))


def test_no_tracked_file_name_carries_an_issue_number(checkout: None) -> None:
    names = _git("ls-files")
    assert names.returncode == 0, names.stderr
    hits = [path for path in names.stdout.splitlines() if not EXEMPT.search(path) and REFERENCE.search(path)]
    assert not hits, "rename after the concept: " + ", ".join(hits)


# The samples are assembled from parts so that this file's own text holds no reference for the check to find.
WORD = "issue"


@pytest.mark.parametrize("text", [
    f"{WORD} 13", f"{WORD}13", f"({WORD.title()} 4)", f"the {WORD}-9 settings", f"{WORD.upper()}_12",
    f"{WORD}#12", f"{WORD} #12", f"{WORD}s 4 and 6", f"{WORD} no. 5", f"# {WORD} 4  # {WORD} 6",
    f"for {WORD}13 in (a, b):", f"tests/api/test_{WORD}13_api.py",
])
def test_the_pattern_catches_references(text: str) -> None:
    assert REFERENCE.search(text), text


@pytest.mark.parametrize("text", [
    f"tokens {WORD}d 2026-12-08", f"{WORD}_token(3)", f"t{WORD} 3", f"re{WORD} 5 leases",
    f"https://github.com/Azure/karpenter-provider-azure/{WORD}s/92", f"{WORD}.3", f"{WORD}s found: 0",
    f"No {WORD}s found", f"{WORD}r 1",
])
def test_the_pattern_lets_legitimate_words_pass(text: str) -> None:
    assert not REFERENCE.search(text), text
