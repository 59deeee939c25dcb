"""The commands the documentation shows, read out of its fenced `sh` blocks and checked against the real CLI.

Conventions (the documentation follows them; `test_readme_commands.py` enforces them):

- A block opened with ```` ```sh ```` is *checked*: every `spotwise ...` command in it must name commands that
  exist, with flags that exist and no more positional arguments than the command takes. Cloud blocks stay
  plain `sh`: they are checked, never run.
- A block opened with ```` ```sh run ```` is also *run*, top to bottom, by bash with `set -euo pipefail`,
  against a real daemon on SQLite and the local provider, from the repository root. The run blocks of one
  page share one shell (as a reader's terminal would), the README's first, then each docs page's, all
  against the same daemon. `HOME` is a temporary directory whose `.spotwise` is the daemon's home, and the
  daemon's port stands in for the default one (`SPOTWISE_PORT`; `127.0.0.1:8470` in the text is replaced).
  So a run block may only use what the local provider offers and what earlier run blocks created.
- The reference notation of the README is understood: `[...]` marks optional parts (checked as if given),
  and `spotwise policy apply FILE | show | history` lists alternative subcommands of one group: after a
  `spotwise GROUP ...` segment, a `|` segment whose first word is a subcommand of that group, or no program
  on PATH (a misspelt alternative), is an alternative; one that starts with a program is a real pipe.

Why a checker and not `--help` per command: one in-process walk over the click tree takes milliseconds,
where a subprocess per documented command would take a second each.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPERATORS = {"|", "||", "&&", ";", "&", "(", ")"}
FENCE = re.compile(r"^```(\S*)(.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its info words after the language, and its text."""

    path: Path
    line: int  # 1-based line of the opening fence
    words: tuple[str, ...]
    text: str

    @property
    def runs(self) -> bool:
        return "run" in self.words

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def sh_blocks(path: Path) -> list[Block]:
    """Every fenced block whose language is `sh`, in file order."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if match.group(1) == "sh":
            blocks.append(Block(path, start + 1, tuple(match.group(2).split()), "\n".join(body)))
    return blocks


def command_lines(text: str) -> list[str]:
    """Logical command lines: continuations joined, prompts, blanks and comment lines dropped."""
    joined = text.replace("\\\n", " ")
    out = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line.startswith("$ "):
            line = line[2:]
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _tokens(line: str) -> list[str]:
    """Shell words with operators as their own tokens; `$(` opens a group like `(`."""
    lexer = shlex.shlex(line.replace("$(", " ( "), posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    for word in lexer:
        if word not in OPERATORS and word.endswith(")") and not word.startswith("("):
            words += [word.rstrip(")"), ")"]  # `... -o json)` closes a command substitution
        else:
            words.append(word)
    return [w for w in words if w]


def _segments(line: str) -> list[tuple[str, list[str]]]:
    """(the operator before it, words) per simple command of the line."""
    segments: list[tuple[str, list[str]]] = []
    before = ""
    words: list[str] = []
    for token in _tokens(line):
        if token in OPERATORS:
            segments.append((before, words))
            before, words = token, []
        else:
            words.append(token)
    segments.append((before, words))
    return [(op, w) for op, w in segments if w]


def _unbracket(words: list[str]) -> list[str]:
    return [w.strip("[]") for w in words if w.strip("[]")]


def invocations(line: str, root: Any) -> list[list[str]]:
    """Each `spotwise` command the line shows, as argv without the program name, alternatives expanded."""
    found: list[list[str]] = []
    group_path: list[str] | None = None
    for op, words in _segments(line):
        words = _unbracket(words)
        if words[0] == "spotwise":
            argv = words[1:]
            found.append(argv)
            group_path = _group_path(root, argv)
        elif op == "|" and group_path and (_subcommand(root, group_path, words[0]) is not None
                                           or shutil.which(words[0]) is None):
            found.append([*group_path, *words])  # an alternative (a misspelt one then fails the check)
        else:
            group_path = None
    return found


def _context(command: Any, name: str) -> Any:
    # The context class of the command itself: typer may ship its own copy of click.
    return command.context_class(command, info_name=name)


def _subcommand(root: Any, path: list[str], name: str) -> Any:
    command = root
    for part in [*path, name]:
        if not hasattr(command, "get_command"):
            return None
        command = command.get_command(_context(command, part), part)
        if command is None:
            return None
    return command


def _group_path(root: Any, argv: list[str]) -> list[str]:
    """The subcommand words of argv that name groups (the prefix alternatives after `|` share)."""
    path: list[str] = []
    command = root
    for word in argv:
        if word.startswith("-") or not hasattr(command, "get_command"):
            break
        sub = command.get_command(_context(command, word), word)
        if sub is None or not hasattr(sub, "get_command"):
            break
        path.append(word)
        command = sub
    return path


def check(root: Any, argv: list[str]) -> list[str]:
    """What is wrong with `spotwise ARGV` for this CLI: unknown commands, unknown flags, extra arguments."""
    command, path = root, ["spotwise"]
    words = list(argv)
    while hasattr(command, "get_command"):
        if not words:
            return []
        word = words.pop(0)
        if word.startswith("-"):
            problem = _check_option(command, path, word, words)
            if problem:
                return [problem]
            continue
        sub = command.get_command(_context(command, word), word)
        if sub is None:
            known = ", ".join(command.list_commands(_context(command, path[-1])))
            return [f"`{' '.join(path)}` has no command {word!r} (it has: {known})"]
        command = sub
        path.append(word)
    problems: list[str] = []
    positional: list[str] = []
    while words:
        word = words.pop(0)
        if word == "--":
            positional += words
            break
        if word.startswith("-") and len(word) > 1 and not _number(word):
            problem = _check_option(command, path, word, words)
            if problem:
                problems.append(problem)
        else:
            positional.append(word)
    arguments = [p for p in command.params if getattr(p, "param_type_name", "") == "argument"]
    unlimited = any(p.nargs == -1 for p in arguments)
    if not unlimited and len(positional) > sum(p.nargs for p in arguments):
        problems.append(f"`{' '.join(path)}` takes {len(arguments)} argument(s), given {positional}")
    required = [p for p in arguments if p.required]
    if len(positional) < len(required):
        problems.append(f"`{' '.join(path)}` needs {', '.join(p.name.upper() for p in required)}")
    return problems


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _check_option(command: Any, path: list[str], word: str, rest: list[str]) -> str | None:
    """None when `word` is an option of `command` (its value, if it takes one, is taken from `rest`)."""
    name = word.split("=", 1)[0]
    if name in getattr(command, "get_help_option_names", lambda ctx: {"--help"})(_context(command, path[-1])):
        return None
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        if name in param.opts:
            if not (param.is_flag or param.count) and "=" not in word and rest:
                rest.pop(0)
            return None
        if name in param.secondary_opts:
            return None
    options = sorted(o for p in command.params for o in [*p.opts, *p.secondary_opts] if o.startswith("-"))
    return f"`{' '.join(path)}` has no option {name} (it has: {', '.join(options) or 'none'})"
