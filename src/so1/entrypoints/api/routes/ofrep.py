"""OFREP: applications evaluate SO1's feature flags with any OpenFeature SDK's OFREP provider
(base URL = SO1's URL, ``Authorization: Bearer <key with read scope>``). Errors are OFREP's
own bodies (``errorCode``, ``errorDetails``), not problem documents, so providers understand
them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from so1.domain import ofrep
from so1.entrypoints.api.deps import ContainerDep, Reader
from so1.errors import NotFound
from so1.services.mitigation import changes as svc

router = APIRouter(tags=["ofrep"])


async def _context_error(request: Request, key: str | None) -> JSONResponse | None:
    raw = await request.body()
    if not raw.strip():
        return None  # no body: an empty context
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        details = f"the request body is not JSON: {exc}"
        return JSONResponse(ofrep.failure(key, ofrep.PARSE_ERROR, details), status_code=400)
    problem = ofrep.context_problem(body)
    if problem is None:
        return None
    return JSONResponse(ofrep.failure(key, ofrep.INVALID_CONTEXT, problem), status_code=400)


@router.post("/ofrep/v1/evaluate/flags/{key}", summary="Evaluate one flag (OFREP)")
async def evaluate_flag(
    key: str, request: Request, container: ContainerDep, _: Reader
) -> JSONResponse:
    bad = await _context_error(request, key)
    if bad is not None:
        return bad
    try:
        flag = await run_in_threadpool(svc.get_flag, container.uow, key)
    except NotFound:
        details = f"no feature flag '{key}'"
        return JSONResponse(ofrep.failure(key, ofrep.FLAG_NOT_FOUND, details), status_code=404)
    return JSONResponse(ofrep.evaluation(flag) | {"cacheable": False})


@router.post("/ofrep/v1/evaluate/flags", summary="Evaluate every flag (OFREP bulk)")
async def evaluate_flags(
    request: Request,
    container: ContainerDep,
    _: Reader,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    bad = await _context_error(request, None)
    if bad is not None:
        return bad
    flags = await run_in_threadpool(svc.list_flags, container.uow)
    tag = ofrep.entity_tag(flags)
    if if_none_match is not None and tag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": tag})
    body: dict[str, Any] = {"flags": [ofrep.evaluation(flag) for flag in flags]}
    return JSONResponse(body, headers={"ETag": tag})


@router.get("/ofrep/v1/configuration", summary="What this flag service supports (OFREP)")
def configuration(_: Reader) -> JSONResponse:
    return JSONResponse(ofrep.CONFIGURATION)
