"""HTML routes of the dashboard: one shell template filled per page, and the static files.

Why no template engine and no front-end build: the pages hold no data (the browser fetches it
from the JSON API with the user's token, so the API's team rule is the only access rule), so the
server only has to fill a page name and a title into one shell. `string.Template` does that
without adding a dependency; the JavaScript is a few small files served as they are.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from orchestrator import __version__
from orchestrator.api.errors import ApiError

router = APIRouter(prefix="/ui", include_in_schema=False)
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SHELL = Template((HERE / "templates" / "shell.html").read_text())
NAV = (("jobs", "Jobs"), ("instances", "Instances"), ("spend", "Spend"), ("alerts", "Alerts"),
       ("offers", "Offers"))
MEDIA = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate: a daemon upgrade must not run stale scripts


def render(page: str, title: str, job_id: str = "") -> HTMLResponse:
    section = "jobs" if page == "job" else page
    current = ' aria-current="page"'
    nav = "\n".join(f'<li><a href="/ui/{key}"{current if key == section else ""}>{label}</a></li>'
                    for key, label in NAV)
    body = SHELL.substitute(title=html.escape(title), page=page, job_id=html.escape(job_id, quote=True),
                            nav=nav, version=__version__)
    return HTMLResponse(body, headers={**NO_CACHE, "X-Content-Type-Options": "nosniff",
                                       "Referrer-Policy": "no-referrer"})


@router.get("")
@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/jobs", status_code=307)


@router.get("/jobs")
def jobs_page() -> HTMLResponse:
    return render("jobs", "Jobs")


@router.get("/jobs/{job_id}")
def job_page(job_id: str) -> HTMLResponse:
    return render("job", f"Job {job_id}", job_id)


@router.get("/instances")
def instances_page() -> HTMLResponse:
    return render("instances", "Instances")


@router.get("/spend")
def spend_page() -> HTMLResponse:
    return render("spend", "Spend")


@router.get("/alerts")
def alerts_page() -> HTMLResponse:
    return render("alerts", "Alerts")


@router.get("/offers")
def offers_page() -> HTMLResponse:
    return render("offers", "Offers")


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """Only the files shipped in static/ (a name, never a path)."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in MEDIA or not path.is_file():
        raise ApiError(404, "not_found", f"no static file {name!r}")
    return FileResponse(path, media_type=MEDIA[path.suffix], headers=NO_CACHE)
