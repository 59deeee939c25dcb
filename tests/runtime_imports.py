"""Import every module of Spotwise as a runtime-only install would: optional dependencies refused.

Why: `make demo` installs only the runtime dependencies, and one module-level `import psycopg` (an extra) made
the daemon exit at start on every fresh clone, while the tests passed in a virtualenv with every extra. This
check refuses the optional top-level packages with a `sys.meta_path` finder, whatever the environment has
installed, then imports each module of orchestrator, policies and providers (the cloud adapter packages,
which exist to use their SDK, excepted), and runs `spotwise --help` through the CLI's entry module.

    python -m tests.runtime_imports                 # exit 1 and one line per module that failed
    python -m tests.runtime_imports --package mypkg # other packages (used by the test that it can fail)

Standard library only: CI runs it in the demo's runtime-only virtualenv too, where pytest is not installed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import pkgutil
import runpy
import sys
from collections.abc import Iterator, Sequence

#: Top-level packages of the optional extras (postgres, aws, gcp, azure, plot, apprise) and of the test-only fakes.
OPTIONAL = ("psycopg", "psycopg2", "psycopg_binary", "psycopg_c", "boto3", "botocore", "s3transfer", "google",
            "azure", "matplotlib", "moto", "apprise")
#: Cloud adapters: loaded only when that cloud is configured, and they may import their SDK.
ADAPTERS = ("providers.aws", "providers.gcp", "providers.azure")
#: Scripts run by another program, not importable on their own (alembic's env needs alembic's context).
NOT_MODULES = ("orchestrator.store.migrations",)
PACKAGES = ("orchestrator", "policies", "providers", "spotwise")


class RefuseOptional(importlib.abc.MetaPathFinder):
    """Behave as if the optional packages were not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in OPTIONAL:
            raise ModuleNotFoundError(f"No module named {name!r} (an optional dependency)", name=name)
        return None


def refuse_optional() -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in OPTIONAL:
            del sys.modules[name]
    sys.meta_path.insert(0, RefuseOptional())


def _skipped(name: str) -> bool:
    return (name.endswith(".__main__") or any(name == p or name.startswith(p + ".") for p in ADAPTERS + NOT_MODULES))


def module_names(packages: Sequence[str]) -> Iterator[str]:
    for package in packages:
        yield package
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + ".", onerror=lambda _name: None):
            if not _skipped(info.name):
                yield info.name


def import_all(packages: Sequence[str]) -> list[str]:
    """'module: error' for each module that cannot be imported."""
    failures = []
    for name in module_names(packages):
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not only missing modules
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    return failures


def run_cli_help() -> str | None:
    """`spotwise --help` through `python -m orchestrator`; the failure, or None."""
    argv = sys.argv
    sys.argv = ["spotwise", "--help"]
    try:
        runpy.run_module("orchestrator", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return f"spotwise --help exited {exc.code}"
    except Exception as exc:  # noqa: BLE001
        return f"spotwise --help: {type(exc).__name__}: {exc}"
    finally:
        sys.argv = argv
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description="Import every module with the optional dependencies refused.")
    parser.add_argument("--package", action="append", help="a package to check instead of Spotwise's")
    args = parser.parse_args()
    refuse_optional()
    failures = import_all(args.package or PACKAGES)
    if not args.package:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            failure = run_cli_help()
        if failure:
            failures.append(failure)
    for line in failures:
        print(f"runtime-only import failed: {line}", file=sys.stderr)
    if not failures:
        print(f"every module of {', '.join(args.package or PACKAGES)} imports without {', '.join(OPTIONAL)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
