"""The on-instance agent: runs the job, ships its output, heartbeats, reports the exit code.

`python -m orchestrator.agent` on each instance, installed from the daemon's own wheel (`main` is its life for one
attempt; `prepare`, `runner`, `container`, `sync`, `notices`, `gpu`, `gang`, `session`, `identity` one step each).
It talks to the daemon over HTTP only (the agent API, orchestrator/api/agent*.py), so it imports no store, no loop
and no job model: only `checkpoint` (the storage library), `workdir` (unpacking), `identity` (the proof it sends)
and `providers` (each cloud's notice watcher and object store). Nothing in the daemon imports it.
"""
