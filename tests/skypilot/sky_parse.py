"""Run under SkyPilot's own Python (a separate venv): what `sky.Task.from_yaml` reads from each task file, as JSON.

Usage: python sky_parse.py CWD:PATH ... (each file is parsed with CWD as the current directory, since SkyPilot
reads `workdir` relative to it). Prints one line `SKY-PARSE-RESULT {"CWD:PATH": {...} or {"error": "..."}}` (SkyPilot
prints progress of its own to stdout). Imports nothing of Spotwise: it runs where only SkyPilot is installed.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

MARKER = "SKY-PARSE-RESULT "


def describe(path: str) -> dict[str, Any]:
    import sky

    task = sky.Task.from_yaml(path)
    resources = task.resources
    options = []
    spot = set()
    for r in (resources if isinstance(resources, list) else sorted(resources, key=repr)):
        accs = r.accelerators or {}
        options += [f"{name}:{int(count) if float(count).is_integer() else count}" for name, count in accs.items()]
        spot.add(bool(r.use_spot))
    return {
        "accelerators": sorted(set(options)),
        "ordered": isinstance(resources, list) and len(resources) > 1,
        "num_nodes": task.num_nodes,
        "envs": {k: str(v) for k, v in (task.envs or {}).items()},
        "secrets": sorted((task.secrets or {}).keys()),
        "setup": task.setup,
        "run": task.run if isinstance(task.run, str) or task.run is None else repr(task.run),
        "use_spot": sorted(spot),
        "file_mounts": sorted({**(task.file_mounts or {}), **(task.storage_mounts or {})}),
        "name": task.name,
    }


def main(args: list[str]) -> int:
    out: dict[str, Any] = {}
    start = os.getcwd()
    for item in args:
        cwd, _, path = item.partition(":")
        os.chdir(cwd)
        try:
            out[item] = describe(path)
        except Exception as exc:  # noqa: BLE001 - any refusal of SkyPilot's is a result here
            out[item] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            os.chdir(start)
    print(MARKER + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
