"""Spotwise orchestrator: the daemon, its store, queue, API, CLI and the on-instance agent.

The top level keeps only the daemon's wiring (daemon, runtime, config, leases, logs, tokens, metrics, loop
containment, ...); each folder is one role (jobs, provisioning, catalog, spending, alerts, api, cli, ui, agent, ...).
Which folder may import which is tools/layering.py's table, drawn in docs/architecture.md; this module itself holds
only `__version__`, which the API, the dashboard and the agent wheel import.
"""

__version__ = "0.1.0"
