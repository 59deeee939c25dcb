"""Checkpoint storage: versioned uploads of a job's checkpoint directory to object storage, and restores.

`backends` and `store` are the storage library that the agent, the workdir store and the client use; they import
only `providers` (each cloud's object store). `jobs` and `views` are the daemon's side: where a job's checkpoints
live, what its agents reported (job events), and their costs in `jobs show`; they may import `jobs`, `store`,
`spending` and the settings. Never a loop, the API, the CLI or the UI: those import it.
"""

from orchestrator.checkpoint.backends import CheckpointStorageError, open_backend
from orchestrator.checkpoint.store import CheckpointStore, UploadResult, Version

__all__ = ["CheckpointStorageError", "CheckpointStore", "UploadResult", "Version", "open_backend"]
