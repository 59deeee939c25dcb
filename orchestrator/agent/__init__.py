"""The on-instance agent: runs the job, ships its output, heartbeats, reports the exit code."""
