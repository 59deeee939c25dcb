"""The REST API (FastAPI). The CLI is a thin client of it.

`create_app` builds the app: one router module per resource (jobs, offers, costs, policies, secrets, workdirs,
alerts, providers, admin, health) and the agent's routes (`agent*.py`: spec, heartbeats, output, exit, the bootstrap
exchange, checkpoints, the gang rendezvous), with the middleware (limits, rate limit, security headers). An entry
point: it may import any daemon folder below it and mounts `ui`'s routers; only `daemon.py` and `ui` import it.
"""

from __future__ import annotations

from fastapi import FastAPI

from orchestrator import __version__
from orchestrator.api import (
    admin,
    agent,
    agent_bootstrap,  # agent wheel, workdir download, restart report
    agent_checkpoint,
    agent_exchange,
    alerts,
    costs,
    health,
    jobs,
    offers,
    policies,
    providers,
    secrets,
    workdirs,
)
from orchestrator.api.docs import add_docs
from orchestrator.api.errors import ERROR_RESPONSES, install_error_handlers
from orchestrator.api.headers import SecurityHeaders
from orchestrator.api.inflight import API_THREADS, InFlightLimit
from orchestrator.api.limits import BodySizeLimit
from orchestrator.api.ratelimit import RateLimit
from orchestrator.runtime import Runtime
from orchestrator.tokens import TokenCache


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(title="Spotwise", version=__version__,
                  description="Run GPU jobs on the cheapest spot capacity without losing work or money.",
                  responses=ERROR_RESPONSES, docs_url=None, redoc_url=None)  # /docs: api/docs.py
    app.state.rt = rt
    app.state.token_cache = TokenCache()  # accepted API tokens, 2 s (orchestrator/tokens.py)
    install_error_handlers(app)
    for module in (jobs, agent, admin, health, providers, costs, policies, alerts, offers):
        app.include_router(module.router)
    app.include_router(agent_checkpoint.router)  # checkpoint versions the agent restored or uploaded
    app.include_router(agent_exchange.router)  # the once-only bootstrap token -> the agent token
    for code_and_secrets in (agent_bootstrap, secrets, workdirs):  # code, agent wheel and secrets for jobs
        app.include_router(code_and_secrets.router)
    from orchestrator.ui import api, pages, signin  # the web dashboard (imported here: it uses api.deps)

    app.include_router(api.router)
    app.include_router(signin.router)  # one-time sign-in codes: before pages, so /ui/signin is its route
    app.include_router(pages.router)
    app.add_middleware(InFlightLimit, limit=API_THREADS)  # no request thread waits on a held connection
    app.add_middleware(BodySizeLimit, max_bytes=rt.settings.max_request_bytes,
                       overrides={"/v1/workdirs/": rt.settings.workdir_max_bytes})  # workdir uploads: their own limit
    docs_policies = add_docs(app, rt.settings.docs_assets_url)  # Swagger UI from a configurable origin
    app.add_middleware(SecurityHeaders, per_path=docs_policies)  # CSP, no framing, nosniff on every answer
    app.add_middleware(RateLimit, rate=rt.settings.api_rate_limit_per_second,  # outermost
                       burst=rt.settings.api_rate_limit_burst)
    return app
