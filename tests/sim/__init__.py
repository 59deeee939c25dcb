"""The trace simulator, and that it takes the same decisions as the daemon."""
