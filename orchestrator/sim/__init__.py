"""Trace-driven simulator: replays spot availability traces through the same deadline policies the daemon uses.

Entry points: `run_simulation` and `format_table` (runner), `replay` (one job, engine), `lower_bound`,
`load_trace_set` (traces) and `run_workload` (multi-job mode).
"""
