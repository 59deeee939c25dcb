"""The chaos harness: `python -m tests.chaos --seed N --jobs 200`; see harness.py."""
