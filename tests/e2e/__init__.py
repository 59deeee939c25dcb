"""Real daemon subprocesses end to end: the CLI, crash recovery, each cloud on its fake, config at start."""
