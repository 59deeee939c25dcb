"""Spotwise's Python client: `from spotwise import Client`.

Only re-exports `orchestrator.client`, where the client lives (the product's packages are orchestrator/,
providers/ and policies/), so the public names are listed once, there; see docs/client.md. Nothing in the product
imports it: users do.
"""

from orchestrator.client import *  # noqa: F403  (the public names are orchestrator.client's __all__)
from orchestrator.client import __all__ as __all__
