"""The chaos harness (issue 12): `python -m tests.chaos --seed N --jobs 200`; see harness.py."""
