"""The CLI's HTTP client of the API. Every failure becomes a `CliError` with a message to act on."""

from __future__ import annotations

from typing import Any

import httpx

from orchestrator.config import Settings


class CliError(Exception):
    """Printed as 'error: ...' with a non-zero exit, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def resolve_token(settings: Settings) -> str:
    if settings.token:
        return settings.token
    path = settings.admin_token_file
    try:
        return path.read_text().strip()
    except OSError:
        return ""


class ApiClient:
    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiClient:
        return cls(settings.effective_url, resolve_token(settings))

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise CliError(f"cannot reach the Spotwise daemon at {self.url}; start it with 'spotwise serve' "
                           "or point SPOTWISE_URL at it") from None
        except httpx.TimeoutException:
            raise CliError(f"the daemon at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise CliError(f"request to {self.url} failed: {exc}") from None
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                message = error["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300] or response.reason_phrase
            hint = ""
            if response.status_code == 401:
                hint = " (set SPOTWISE_TOKEN to an API token; 'spotwise tokens create' makes one)"
            raise CliError(f"{message}{hint}", exit_code=1)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})
