"""The client's HTTP transport, on the standard library (urllib) instead of httpx.

Why: a CLI command makes one or two requests and exits, so what counts is start-up. Importing httpx and making an
`httpx.Client` (which builds an SSL context from the CA bundle even for http://) was the largest part of each
`spotwise jobs list`; urllib costs a fraction of it. What users rely on is kept: HTTP(S)_PROXY/NO_PROXY from the
environment (urllib's ProxyHandler), certificate verification for https:// (the default SSL context, created only
when an https URL is opened), no redirects followed (as httpx), JSON bodies as httpx sends them (no NaN, UTF-8).
`Http` (orchestrator/client/http.py) talks to this through `request(...)` returning `Response`; tests may swap in
Starlette's TestClient, which has the same shape.
"""

from __future__ import annotations

import json as jsonlib
import urllib.error
import urllib.request
from http.client import HTTPException
from typing import Any
from urllib.parse import urlencode


class TransportError(Exception):
    """The request did not get an HTTP answer."""


class ConnectFailed(TransportError):
    """No connection: refused, unknown host, TLS handshake failed."""


class TimedOut(TransportError):
    """Connected (or trying to) but no answer within the timeout."""


class Response:
    """The parts of an HTTP response the CLI reads (the same names as httpx's Response)."""

    def __init__(self, status_code: int, reason_phrase: str, content: bytes,
                 headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.content = content
        self.headers = headers or {}  # names lower-case (Retry-After is read as "retry-after")

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer (httpx does not follow redirects either): a POST is never silently re-sent elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _headers(message: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (message.items() if message is not None else [])}


def _query_value(value: Any) -> str:
    """As httpx encodes query values: booleans lower-case, None empty."""
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _query(params: dict[str, Any] | None) -> str:
    pairs = []
    for key, value in (params or {}).items():
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, _query_value(item)))
    return urlencode(pairs)


class StdlibHttp:
    """`request(method, path, params=, json=, content=, headers=)` against one base URL."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects())

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                content: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
        sent = {**self.headers, **(headers or {})}
        body = content
        if json is not None:  # ValueError on NaN, UnicodeEncodeError on an unpaired surrogate: the caller says so
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        query = _query(params)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, data=body, headers=sent, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.reason, answer.read(), _headers(answer.headers))
        except urllib.error.HTTPError as exc:  # an HTTP answer with a 3xx, 4xx or 5xx status
            with exc:
                return Response(exc.code, str(exc.reason), exc.read(), _headers(exc.headers))
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise TimedOut(str(exc.reason)) from None
            raise ConnectFailed(str(exc.reason)) from None
        except TimeoutError as exc:
            raise TimedOut(str(exc)) from None
        except (HTTPException, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
