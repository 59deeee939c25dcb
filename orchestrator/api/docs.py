"""/docs: Swagger UI, its assets from `docs_assets_url` (a CDN by default; point it at a mirror, or "" to turn
/docs off, for an air-gapped deployment), under a Content-Security-Policy that names exactly that origin.

Why not ship the assets: no package in this environment carries Swagger UI's files small and pure enough to add
as a dependency (swagger-ui-dist is an npm package; the Python wrappers bundle a server or pin old copies), so the
URL is a setting: serve swagger-ui-dist's `swagger-ui-bundle.js`, `swagger-ui.css` and `favicon-32x32.png` from
any internal web server and set SPOTWISE_DOCS_ASSETS_URL to that folder. The raw schema stays at /openapi.json.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlparse

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

_INLINE = re.compile(r"<script>(.*?)</script>", re.S)


def _hashes(page: str) -> str:
    """'sha256-...' sources for each inline script of `page`."""
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                    for s in _INLINE.findall(page))


def add_docs(app: FastAPI, assets_url: str) -> dict[str, str]:
    """Add /docs and its OAuth2 redirect page; the answer is their Content-Security-Policies by path."""
    base = assets_url.rstrip("/")
    if not base:
        return {}
    parsed = urlparse(base)
    origin = f"{parsed.scheme}://{parsed.netloc}" if parsed.netloc else ""  # "" : a path on this daemon
    page_bytes = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API",
                               oauth2_redirect_url="/docs/oauth2-redirect",
                               swagger_js_url=f"{base}/swagger-ui-bundle.js", swagger_css_url=f"{base}/swagger-ui.css",
                               swagger_favicon_url=f"{base}/favicon-32x32.png").body
    redirect_bytes = get_swagger_ui_oauth2_redirect_html().body

    page, redirect = bytes(page_bytes).decode(), bytes(redirect_bytes).decode()

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return HTMLResponse(redirect)

    def policy(html: str) -> str:
        return (f"default-src 'none'; script-src 'self' {origin} {_hashes(html)}; "
                f"style-src 'self' {origin} 'unsafe-inline'; img-src 'self' {origin} data:; connect-src 'self'; "
                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'").replace("  ", " ")

    return {"/docs": policy(page), "/docs/oauth2-redirect": policy(redirect)}
