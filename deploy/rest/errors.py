"""Errors as JSON: ``{"error": {"code", "message", "request_id"[, "raw"]}}``.

The client's mistakes are 4xx: :class:`ApiError` says which, and the agent's ValueError kinds
map here (an unusable model answer 422, a point off the screen 400); a failed model endpoint
is 502; anything else is a 500 whose request id is in the log (the ``observe`` middleware).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sensorium.deploy.rest.logs import new_request_id  # noqa: F401 - importable from here as before
from sensorium.deploy.rest.schemas.errors import ErrorResponse
from sensorium.deploy.rest.service import BackendFailed
from sensorium.stages.gui.coords import CoordinateError
from sensorium.stages.gui.protocol import AgentError

log = logging.getLogger(__name__)

#: the error statuses every route may answer, for OpenAPI
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (400, 401, 403, 413, 422, 429, 500)}


class ApiError(Exception):
    """An error with its HTTP status, a stable ``code`` for clients, a message saying what was
    expected and what came, the model's text (``raw``) where one exists, and extra headers."""

    def __init__(self, status: int, code: str, message: str, raw: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.raw, self.headers = status, code, message, raw, headers or {}


def error_body(request_id: str, code: str, message: str, raw: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "request_id": request_id, **({"raw": raw} if raw is not None else {})}}


def error_response(request_id: str, exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(request_id, exc.code, exc.message, exc.raw), status_code=exc.status, headers=exc.headers)


def internal_error(request_id: str) -> JSONResponse:
    return error_response(request_id, ApiError(500, "internal", "internal error; see the server log for this request id"))


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


def as_api_error(exc: Exception) -> ApiError:
    """The :class:`ApiError` for an error the agent raised (its kind decides the status)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AgentError):
        return ApiError(422, "unusable_model_output", str(exc), raw=exc.raw)
    if isinstance(exc, CoordinateError):
        return ApiError(400, "bad_screen", str(exc))
    if isinstance(exc, BackendFailed):
        return ApiError(502, "backend_failed", str(exc))
    raise TypeError(f"no API error for {type(exc).__name__}") from exc


def from_http_exception(exc: HTTPException) -> ApiError:
    """Starlette's and FastAPI's own errors (404, 405, a form over its limits, a body that does
    not parse) as the envelope: the code is the status's name (``not_found``)."""
    try:
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        code = f"http_{exc.status_code}"
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return ApiError(exc.status_code, code, detail, headers=dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    """Answer :class:`ApiError`, the agent's errors, Starlette's HTTP errors and invalid requests
    as the envelope, never FastAPI's ``{"detail": ...}``."""

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(_request_id(request), from_http_exception(exc))

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(_request_id(request), as_api_error(exc))

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body')}: {e.get('msg')}" for e in exc.errors()]
        return error_response(_request_id(request), ApiError(422, "invalid_request", "; ".join(parts) or "invalid request"))

    for kind in (ApiError, AgentError, CoordinateError, BackendFailed):
        app.add_exception_handler(kind, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
