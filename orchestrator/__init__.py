"""Spotwise orchestrator: the daemon, its store, queue, API, CLI and the on-instance agent."""

__version__ = "0.1.0"
