"""The task-file corpus: SkyPilot task files in the forms its reference documents
(https://docs.skypilot.co/en/latest/reference/yaml-spec.html), each with its expected outcome on its first line:
`# expect: ok` (mapped to a job spec) or `# expect: error: TEXT` (refused with a problem containing TEXT)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
EXAMPLES = ROOT / "examples" / "skypilot"


@dataclass(frozen=True)
class TaskFile:
    path: Path
    error: str | None  # None: expected to map

    @property
    def cwd(self) -> Path:
        """Where `sky launch` / `spotwise submit` is run for this file: its folder (workdir: . means it)."""
        return self.path.parent


def _expectation(path: Path) -> str | None:
    first = path.read_text().splitlines()[0]
    if first == "# expect: ok":
        return None
    prefix = "# expect: error: "
    assert first.startswith(prefix), f"{path.name}: the first line must be '# expect: ok' or '{prefix}TEXT'"
    return first[len(prefix):]


def corpus_files() -> list[TaskFile]:
    return [TaskFile(p, _expectation(p)) for p in sorted(CORPUS.glob("*.yaml"))]


def example_files() -> list[TaskFile]:
    return [TaskFile(p, None) for p in sorted(EXAMPLES.glob("*.yaml"))]
