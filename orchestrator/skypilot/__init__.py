"""SkyPilot task files as Spotwise jobs: `spotwise submit task.yaml` recognises one (or `--format skypilot`).

- `detect`: which format a file is in, from fields only one of the two formats has;
- `task` and `resources`: the mapping itself, pure (plain data in, spec data and problems out);
- `load_job_file`: read a file in either format and return a checked JobSpec (SpecError on any problem).

docs/skypilot.md says what maps to what, what is refused and why. It imports only `jobs` (the JobSpec it
produces) and `providers` (GPU names); the CLI's `submit` imports it.
"""

from __future__ import annotations

from orchestrator.skypilot.detect import FORMATS, detect_format, load_job_file

__all__ = ["FORMATS", "detect_format", "load_job_file"]
