"""RFC 9457 problem responses: the one place errors become HTTP."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from so1 import errors

log = logging.getLogger("so1.api")

PROBLEM_JSON = "application/problem+json"
API_PREFIXES = ("/v1/", "/v2/", "/ofrep/", "/openapi.json")
PageError = Callable[[Request, int, str], Response]

_STATUS: list[tuple[type[errors.So1Error], int]] = [
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.MalformedRequest, 400),
    (errors.ValidationFailed, 422),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.RateLimited, 503),
    (errors.Unavailable, 503),
    (errors.IntegrationError, 502),
]


def problem(
    status: int,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:so1:problem:{HTTPStatus(status).phrase.lower().replace(' ', '-')}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(exc: errors.So1Error) -> int:
    """The HTTP status an error answers with (the pages use it too)."""
    return next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)


def so1_error_response(exc: errors.So1Error) -> JSONResponse:
    status = status_of(exc)
    extensions: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, errors.InvalidTransition):
        extensions = {"current_status": exc.current, "allowed": exc.allowed}
    elif isinstance(exc, errors.UnknownAgent):
        extensions = {"known_agents": exc.known}
    elif isinstance(exc, errors.ValidationFailed) and exc.field:
        extensions = {"errors": [{"field": exc.field, "message": exc.detail}]}
    elif isinstance(exc, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="so1"'
    elif isinstance(exc, errors.RateLimited) and exc.retry_after_seconds is not None:
        headers["Retry-After"] = str(int(exc.retry_after_seconds + 0.999))
    return problem(status, exc.detail, exc.title, headers=headers or None, **extensions)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    result = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        message = str(err.get("msg", "invalid"))
        if loc == ["body"] and err.get("type") in ("model_attributes_type", "dict_type"):
            message = "the body must be a JSON object"
        elif loc == ["body"] and err.get("type") == "missing":
            message = "a JSON body is required"
        result.append({"field": ".".join(loc), "message": message})
    return result


async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem(400, "the request body is not valid JSON", "Malformed JSON")
    fields = _field_errors(exc)
    names = ", ".join(f["field"] for f in fields)
    return problem(422, f"invalid fields: {names}", "Validation failed", errors=fields)


def wants_a_page(request: Request) -> bool:
    """A browser asking for a page (not the API, which always answers problem JSON)."""
    if request.url.path.startswith(API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


PAGE_MESSAGES = {
    404: "There is no page at this address.",
    405: "This address does not take that kind of request.",
}


def _on_http_with(page_error: PageError | None) -> Callable[..., Any]:
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if page_error is not None and wants_a_page(request):
            message = PAGE_MESSAGES.get(exc.status_code, str(exc.detail))
            return page_error(request, exc.status_code, message)
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    return on_http


def _on_so1_error_with(page_error: PageError | None) -> Callable[..., Any]:
    async def on_so1_error(request: Request, exc: errors.So1Error) -> Response:
        if page_error is not None and wants_a_page(request):
            return page_error(request, status_of(exc), exc.detail)
        return so1_error_response(exc)

    return on_so1_error


async def _on_database(request: Request, exc: DBAPIError) -> JSONResponse:
    if isinstance(exc, DataError):
        # Input the schema let through but the database refuses (e.g. a NUL in a query value).
        detail = "a value in the request cannot be stored or searched (e.g. a NUL character)"
        return problem(422, detail, "Validation failed")
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem(503, "the database is unavailable; retry shortly", "Service unavailable")
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "an internal error occurred; it has been logged", "Internal error")


def install(app: FastAPI, page_error: PageError | None = None) -> None:
    """The handlers; with ``page_error``, a browser asking for an unknown page gets a page."""
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(errors.So1Error, _on_so1_error_with(page_error))
    app.add_exception_handler(StarletteHTTPException, _on_http_with(page_error))
    app.add_exception_handler(DBAPIError, _on_database)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
