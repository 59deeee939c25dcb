"""Size and byte limits on what a job hands to the operating system: refused at submit, named in the error.

Why at submit: a `run` or `env` the kernel cannot take (over ARG_MAX/MAX_ARG_STRLEN: E2BIG; a NUL byte, which no
C string and no PostgreSQL text field can hold) used to be accepted and only fail on the instance, where the
agent crashed before the job started. Refusing it here gives its owner a 422 naming the limit, and nothing of
it reaches a pool, a log table or another team's queue. The limits sit well under Linux's 128 KiB per argument
and ~2 MiB per exec (arguments and environment together, secrets and the agent's own variables added later):

- `run` and `setup`: at most 64 KiB each (UTF-8 bytes); a longer script belongs in the workdir;
- each `env` value: at most 32 KiB; all of `env` (names and values): at most 96 KiB;
- no NUL byte in any text field of the spec (name, labels, env, run, setup, image, mounts, ...).

Only new submissions are checked (like every rule in specfile.submit_problems): a stored job must always read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from orchestrator.jobs.models import JobSpec

KIB = 1024
MAX_COMMAND_BYTES = 64 * KIB  # run, setup
MAX_ENV_VALUE_BYTES = 32 * KIB
MAX_ENV_TOTAL_BYTES = 96 * KIB


def _size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _nul_paths(value: Any, loc: str) -> Iterator[str]:
    """Where a NUL byte hides in a (nested) field value: model fields, mappings (keys too), lists, strings."""
    if isinstance(value, str):
        if "\x00" in value:
            yield loc
    elif isinstance(value, BaseModel):
        for name, inner in value.__dict__.items():
            yield from _nul_paths(inner, f"{loc}.{name}" if loc else name)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(key, str) and "\x00" in key:
                yield f"{loc} (a key)"
            yield from _nul_paths(inner, f"{loc}.{key}")
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            yield from _nul_paths(inner, f"{loc}[{i}]")


def limit_problems(spec: JobSpec) -> Iterator[str]:
    """One line per field over its limit or holding a NUL byte (empty for a spec the agent can start)."""
    for where in _nul_paths(spec, ""):
        yield f"{where}: contains a NUL byte (\\0); no command, environment or log can carry one"
    for name, text in (("run", spec.run), ("setup", spec.setup)):
        if text is not None and _size(text) > MAX_COMMAND_BYTES:
            yield (f"{name}: {_size(text)} bytes is over the limit of {MAX_COMMAND_BYTES // KIB} KiB; put a "
                   "longer script in the workdir and run it from there")
    total = 0
    for key, value in spec.env.items():
        size = _size(value)
        total += _size(key) + size + 2  # NAME=VALUE\0
        if size > MAX_ENV_VALUE_BYTES:
            yield f"env.{key}: {size} bytes is over the limit of {MAX_ENV_VALUE_BYTES // KIB} KiB per value"
    if total > MAX_ENV_TOTAL_BYTES:
        yield (f"env: {total} bytes in all is over the limit of {MAX_ENV_TOTAL_BYTES // KIB} KiB; pass large "
               "values as files (workdir, file_mounts) instead")
