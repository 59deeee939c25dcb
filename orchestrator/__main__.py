"""`python -m orchestrator` is the `spotwise` command."""

from orchestrator.cli import main

main()
