"""The web dashboard at /ui: a server-rendered shell plus a little vanilla JavaScript over the JSON API.

`pages.router` serves the HTML and static files (no token needed: they hold no data);
`api.router` adds the read-only `/v1/dashboard/*` views the pages call with the user's token.
Both are included by `orchestrator.api.create_app`, the only importer. It imports `api` (deps, errors, the jobs
listing), `jobs`, `spending`, `policies` (budget periods), `store` and the tokens; `api` -> `ui` is the one
folder cycle kept (tools/layering.py says why).
"""
