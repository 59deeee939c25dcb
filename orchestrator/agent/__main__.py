"""`python -m orchestrator.agent`: what a start-up script or the local provider runs."""

from orchestrator.agent.main import main

raise SystemExit(main())
