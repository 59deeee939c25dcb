"""The REST API (FastAPI). The CLI is a thin client of it."""

from __future__ import annotations

from fastapi import FastAPI

from orchestrator import __version__
from orchestrator.api import (  # issue 6
    admin,
    agent,
    alerts,
    costs,
    health,
    jobs,
    offers,  # issue 4
    policies,
    providers,
)
from orchestrator.api.errors import install_error_handlers
from orchestrator.api.limits import BodySizeLimit
from orchestrator.runtime import Runtime


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(title="Spotwise", version=__version__,
                  description="Run GPU jobs on the cheapest spot capacity without losing work or money.")
    app.state.rt = rt
    install_error_handlers(app)
    for module in (jobs, agent, admin, health, providers, costs, policies, alerts, offers):
        app.include_router(module.router)
    app.add_middleware(BodySizeLimit, max_bytes=rt.settings.max_request_bytes)
    return app
