"""Fake clouds for the tests (a scripted provider, a moto relay), reached through the same seams as real ones."""
