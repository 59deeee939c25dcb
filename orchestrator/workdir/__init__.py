"""Getting a job's code onto an instance: pack a local directory deterministically, upload it once
under its sha256, and unpack it safely on the instance before `setup` on every attempt.

It imports `checkpoint` (the same object-store backends) and `jobs` (the spec and secrets of the payload); the
client (packing), the API (upload, download) and the agent (unpacking) import it.
"""

from orchestrator.workdir.pack import PackedWorkdir, WorkdirError, pack_workdir
from orchestrator.workdir.unpack import UnsafeArchive, unpack_workdir

__all__ = ["PackedWorkdir", "UnsafeArchive", "WorkdirError", "pack_workdir", "unpack_workdir"]
