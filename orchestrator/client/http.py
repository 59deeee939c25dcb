"""One request to the API, its answer as JSON, every failure as a typed `SpotwiseError`.

Standard library only at module level (the transport is urllib, imported on first use): `spotwise --help` and
`import spotwise` must stay fast. The transport is swappable (`transport=`): tests hand in Starlette's
TestClient, which has the same `request(method, path, params=, json=, content=, headers=)` shape.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from orchestrator.client.errors import BadResponse, TimedOut, Unavailable, Unreachable, UsageError, error_for


def segment(value: str, what: str = "id") -> str:
    """`value` as one URL path segment: every reserved character percent-encoded, '.' too.

    Why: ids are typed by users, and a raw '?x=1', '' or '../tokens' changed which URL was asked for
    (a query string, the list endpoint, a dot segment that HTTP libraries resolve). '/' cannot be sent at all:
    the server decodes %2F before routing, so such a name can never match; refuse it here instead.
    """
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"the {what} is empty; give one (see 'spotwise --help')")
    if "/" in value:
        raise UsageError(f"{what} {value!r} is not valid: it cannot contain '/'")
    return quote(value, safe="").replace(".", "%2E")


def _retry_after(response: Any) -> float | None:
    """Seconds from a Retry-After header (the API sends whole seconds); None when absent or a date."""
    headers = getattr(response, "headers", None)
    raw = headers.get("retry-after") if headers is not None else None
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _refusal(response: Any) -> tuple[str | None, str, list[str]]:
    """The API's error code, message and details; for a non-API answer the text (or the reason phrase)."""
    try:
        error = response.json()["error"]
        message = error["message"]
        if not isinstance(message, str):
            raise TypeError
        details = error.get("details") or []
        return error.get("code"), message, [str(d) for d in details] if isinstance(details, list) else []
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, response.text[:300] or response.reason_phrase, []


class Http:
    """Requests against one daemon, with the token in every request's Authorization header."""

    def __init__(self, url: str, token: str, timeout: float = 30.0, transport: Any = None) -> None:
        self.url = url.rstrip("/")
        if transport is None:
            from orchestrator.client.transport import StdlibHttp  # not at import: `--help` never needs it

            headers = {"Authorization": f"Bearer {token}"} if token else {}
            transport = StdlibHttp(self.url, headers, timeout)
        self.transport = transport

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of `method path`; `kwargs` as the transport's (params, json, content, headers)."""
        from orchestrator.client import transport as t

        try:
            response = self.transport.request(method, path, **kwargs)
        except t.ConnectFailed:
            raise Unreachable(f"cannot reach the Spotwise daemon at {self.url}; start it with 'spotwise serve' "
                              "or point SPOTWISE_URL at it") from None
        except t.TimedOut:
            raise TimedOut(f"the daemon at {self.url} did not answer in time") from None
        except t.TransportError as exc:
            raise Unavailable(f"request to {self.url} failed: {exc}") from None
        except (UnicodeError, ValueError, TypeError) as exc:  # NaN, unpaired surrogates, a datetime in a JSON body
            raise UsageError(f"cannot send this request: {exc}") from None
        if response.status_code >= 400:
            code, message, details = _refusal(response)
            raise error_for(response.status_code, code, message, details, _retry_after(response))
        try:
            return response.json()
        except ValueError:
            raise BadResponse(f"the server at {self.url} did not answer {path} with JSON; is SPOTWISE_URL the "
                              "Spotwise daemon?", status=response.status_code) from None

    def get(self, path: str, **params: Any) -> Any:
        """GET with query parameters; None values are left out (the API's default applies)."""
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        """POST a JSON body ({} when none)."""
        return self.request("POST", path, json=body if body is not None else {})
