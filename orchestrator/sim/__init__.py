"""Trace-driven simulator: replays spot availability traces through the same deadline policies the daemon uses.

Entry points: `run_simulation` and `format_table` (runner), `replay` (one job, engine), `lower_bound`,
`load_trace_set` (traces: JSON or raw probe logs), `catalog_prices` (per-zone prices from a vms.csv) and
`run_workload` (multi-job mode). Offline: it imports only `policies`, `providers` and `catalog` (vms.csv prices),
never the store or a loop, so a simulation needs no daemon; the CLI's `simulate` imports it.
"""
