"""Every module imports with the optional dependencies refused, and the CLI stays light.

Runs `tests/runtime_imports.py` in a subprocess: its finder refuses psycopg, boto3, google, azure, matplotlib and
moto whatever this virtualenv has installed, so a module-level import of an extra fails here, not on a user's
fresh `make demo`. CI also runs the same script in the demo's runtime-only virtualenv.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: What a client command must not load: the daemon's heavy stack and every cloud SDK.
HEAVY = ("numpy", "sqlalchemy", "boto3", "botocore", "google", "azure", "pydantic_settings", "orchestrator.config",
         "orchestrator.jobs.models", "httpx", "fastapi")


def _python(code_or_args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *env.pop("PYTHONPATH", "").split(os.pathsep)]),
            **env}
    return subprocess.run([sys.executable, *code_or_args], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=120)


def test_every_module_imports_without_the_optional_dependencies() -> None:
    result = _python(["-m", "tests.runtime_imports"])
    assert result.returncode == 0, result.stderr
    assert "every module of orchestrator, policies, providers, spotwise imports without psycopg" in result.stdout


def test_the_check_fails_on_a_module_level_optional_import(tmp_path: Path) -> None:
    """The check cannot pass by accident: a package importing psycopg at module level is named, with exit 1,
    even though this virtualenv has psycopg installed."""
    package = tmp_path / "newcode"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fine.py").write_text("def connect():\n    import psycopg  # where it is used: fine\n")
    (package / "eager.py").write_text("import psycopg\n")
    result = _python(["-m", "tests.runtime_imports", "--package", "newcode"], PYTHONPATH=str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "newcode.eager: ModuleNotFoundError: No module named 'psycopg'" in result.stderr
    assert "newcode.fine" not in result.stderr


def _loaded_after(statement: str) -> set[str]:
    code = (f"import sys\n{statement}\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    result = _python(["-c", code], SPOTWISE_URL="http://127.0.0.1:9", SPOTWISE_HOME="/nonexistent-spotwise-home")
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_the_cli_loads_no_heavy_module() -> None:
    assert _loaded_after("import orchestrator.cli") == set()


def test_the_python_client_loads_no_heavy_module() -> None:
    """`import spotwise` and a call (here to a closed port) stay as light as the CLI: a notebook or script pays
    for the client, not for the daemon's stack."""
    run = ("import spotwise\n"
           "try:\n    spotwise.Client('http://127.0.0.1:9', 't').list_jobs()\n"
           "except spotwise.Unreachable:\n    pass")
    assert _loaded_after(run) == set()


def test_a_client_command_loads_no_heavy_module() -> None:
    """`jobs list` (its options parsed, its request made: here to a closed port) stays on the light path."""
    run = ("sys.argv = ['spotwise', 'jobs', 'list', '--limit', '5', '-s', 'running']\n"
           "from orchestrator.cli import main\n"
           "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 1, exc.code")
    assert _loaded_after(run) == set()


def test_plain_options_are_still_checked() -> None:
    """Options parsed without typer's pydantic adapters keep click's usage errors (exit 2)."""
    result = _python(["-m", "orchestrator", "jobs", "list", "--limit", "lots"], SPOTWISE_URL="http://127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--limit': 'lots' is not a valid integer." in result.stderr
