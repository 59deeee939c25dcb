"""Spending: what jobs cost and the rules that stop them costing more.

The ledger (per-second accrual, exact in SQL on SQLite and PostgreSQL) and the costs read from it; the policy file
(budgets, caps, idle rules), every applied version of it, its preview and its generated reference; the sweeps that
act on those rules (`budget`, `caps`, `idle`, `stops`) and the loops that schedule them; energy and carbon
accounting. The decisions themselves are pure functions in `policies/` with the same names (`policies.budget`,
`policies.caps`, `policies.idle`, `policies.energy`). `spending` may import `jobs`, `alerts`, `store` and the
top-level wiring, never `provisioning`, `catalog`, `api`, `cli` or `ui`. Imported by `provisioning` (a launch
refused by a budget), the API, the dashboard, the spend gauges (metrics.py), checkpoint's cost view and the daemon.
"""
