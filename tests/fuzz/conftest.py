"""The e2e suite's real-daemon fixture, shared here."""

from tests.e2e.conftest import daemon  # noqa: F401 - a fixture
