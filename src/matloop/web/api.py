"""The JSON API under ``/api``, for scripts and robots.

- ``GET /api/campaigns``: every campaign of the folder, with its state;
- ``GET /api/campaigns/{name}``: ``matloop status --json``;
- ``POST /api/campaigns/{name}/propose`` with ``{"n": k}`` (optional): the batch awaiting
  results as records, proposed first when none awaits;
- ``POST /api/campaigns/{name}/results``: JSON records (a list, or ``{"records": [...]}``)
  with ``propose``'s columns, or a CSV/XLSX sheet as the multipart field ``file``:
  200 with what landed, or 422 with every problem (nothing stored);
- ``GET /api/campaigns/{name}/evaluations``: every evaluation (``matloop export``).

Errors are ``{"error": message, "problems": [...]}`` with a 4xx status (``problems``
may be absent).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from matloop.web import actions
from matloop.web.actions import Refused

Endpoint = Callable[[Request], Awaitable[Response]]


class JSON(JSONResponse):
    """JSON with NaN and infinities as null (strict JSON has neither), other objects
    (times, paths) as text."""

    def render(self, content: Any) -> bytes:
        return json.dumps(finite(content), default=str, allow_nan=False).encode()


def finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def answered(endpoint: Endpoint) -> Endpoint:
    """``Refused`` as its JSON error."""

    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Refused as exc:
            return JSON({"error": exc.message, "problems": exc.problems},
                        status_code=exc.status)

    return wrapper


@answered
async def campaigns(request: Request) -> Response:
    return JSON(await run_in_threadpool(actions.campaign_list, request.app.state.folder))


@answered
async def status(request: Request) -> Response:
    return JSON(await run_in_threadpool(actions.status, request.app.state.folder,
                                        request.path_params["name"]))


@answered
async def propose(request: Request) -> Response:
    body = await json_body(request, {})
    n = body.get("n") if isinstance(body, dict) else None
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise Refused(422, f"n: a batch size is a whole number of at least 1 (got {n!r})")
    rows = await run_in_threadpool(actions.propose, request.app.state.folder,
                                   request.path_params["name"], n)
    return JSON({"records": rows})


@answered
async def results(request: Request) -> Response:
    import pandas as pd

    folder, name = request.app.state.folder, request.path_params["name"]
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Refused(422, "file: no results sheet was uploaded")
        content = await upload.read()
        landed = await run_in_threadpool(actions.import_upload, folder, name,
                                         upload.filename or "", content)
        return JSON(landed)
    body = await json_body(request, None)
    rows = body.get("records") if isinstance(body, dict) else body
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise Refused(422, "records: a non-empty list of objects (one per result) is needed")
    frame = pd.DataFrame(rows)
    return JSON(await run_in_threadpool(actions.add_results, folder, name, frame))


@answered
async def evaluations(request: Request) -> Response:
    return JSON({"records": await run_in_threadpool(
        actions.evaluations, request.app.state.folder, request.path_params["name"])})


async def json_body(request: Request, empty: Any) -> Any:
    """The request's JSON (``empty`` for no body); 422 when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Refused(422, f"the body is not JSON: {exc}") from None


ROUTES = [
    Route("/api/campaigns", campaigns),
    Route("/api/campaigns/{name}", status),
    Route("/api/campaigns/{name}/propose", propose, methods=["POST"]),
    Route("/api/campaigns/{name}/results", results, methods=["POST"]),
    Route("/api/campaigns/{name}/evaluations", evaluations),
]
