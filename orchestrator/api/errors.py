"""Every API error is JSON: {"error": {"code": ..., "message": ..., "details": [...]}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.dberrors import short_message
from orchestrator.logs import get_logger

log = get_logger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


# Every route may answer these, in the shape below; declared app-wide so the OpenAPI schema (and
# clients generated from it, and schemathesis) know them.
_ERROR_SCHEMA: dict[str, Any] = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "details"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "details": {"type": "array", "items": {"type": "string"}}}}}}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": why, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    for status, why in [(400, "bad request"), (401, "no, unknown, expired or revoked token"), (403, "not allowed"),
                        (404, "not found (or another team's)"), (409, "state conflict"),
                        (413, "body over max_request_bytes"), (429, "rate limited (see Retry-After)"),
                        (503, "database unavailable, e.g. restarting (see Retry-After)")]
}


def error_body(code: str, message: str, details: list[str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _json_error_line(err: dict[str, Any], doc: Any) -> str:
    """FastAPI reports a bad JSON body as loc ('body', offset): say where, as line and column, and what."""
    loc = err.get("loc", ())
    offset = loc[-1] if loc and isinstance(loc[-1], int) else None
    what = str((err.get("ctx") or {}).get("error") or err.get("msg", ""))
    if offset is None or not isinstance(doc, str):
        return f"request body is not valid JSON: {what}"
    line = doc.count("\n", 0, offset) + 1
    column = offset - (doc.rfind("\n", 0, offset) + 1) + 1
    return f"request body is not valid JSON at line {line}, column {column}: {what}"


def _validation_lines(errors: list[Any], doc: Any = None) -> list[str]:
    lines = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "request"
        if err.get("type") == "json_invalid":
            lines.append(_json_error_line(err, doc))
        elif err.get("type") == "extra_forbidden":
            lines.append(f"unknown field '{loc[-1] if loc else '?'}'")
        else:
            lines.append(f"{where}: {str(err.get('msg', '')).removeprefix('Value error, ')}")
    return lines


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        lines = _validation_lines(list(exc.errors()), exc.body)
        return JSONResponse(error_body("invalid_request", "; ".join(lines) or "invalid request", lines),
                            status_code=422)

    @app.exception_handler(ValidationError)
    async def _model_invalid(_: Request, exc: ValidationError) -> JSONResponse:
        lines = _validation_lines(list(exc.errors()))
        return JSONResponse(error_body("invalid_request", "; ".join(lines), lines), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        if isinstance(exc.__cause__, RecursionError):  # FastAPI's json.loads of e.g. 100k '[': say why
            code, detail = "invalid_request", "request body is nested too deeply to parse"
        return JSONResponse(error_body(code, detail), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_api_error", path=request.url.path, error=repr(exc), exc_info=exc)
        return JSONResponse(error_body("internal", "internal error; see the daemon log"), status_code=500)

    # Chaos (PostgreSQL restarts): a database that is restarting or unreachable is a transient 503 with
    # Retry-After, in the usual JSON shape, not a 500; the pool's pre-ping reconnects once it is back.
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and not isinstance(exc, OperationalError) and not exc.connection_invalidated:
            return await _unexpected(request, exc)
        log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
        return JSONResponse(error_body("database_unavailable", "the database is unavailable; retry shortly"),
                            status_code=503, headers={"Retry-After": "1"})

    # A value the database refuses (sqlalchemy's DataError: a NUL in a text field, a number out of range) is that
    # request's own fault: a 4xx its sender (an agent included) treats as final, never a 500 it retries forever.
    async def _data_refused(request: Request, exc: Exception) -> JSONResponse:
        log.warning("data_refused", path=request.url.path, error=short_message(exc))
        return JSONResponse(error_body("invalid_data", f"the database refused a value of this request: "
                                       f"{short_message(exc)}"), status_code=422)

    app.add_exception_handler(DataError, _data_refused)
    app.add_exception_handler(DBAPIError, _database_down)
    app.add_exception_handler(PoolTimeout, _database_down)
