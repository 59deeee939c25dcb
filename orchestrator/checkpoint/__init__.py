"""Checkpoint storage: versioned uploads of a job's checkpoint directory to object storage, and restores."""

from orchestrator.checkpoint.backends import CheckpointStorageError, open_backend
from orchestrator.checkpoint.store import CheckpointStore, UploadResult, Version

__all__ = ["CheckpointStorageError", "CheckpointStore", "UploadResult", "Version", "open_backend"]
