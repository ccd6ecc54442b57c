"""The server's application: ``create_app(folder, token)``, served by ``matloop serve``.

A Starlette application (server-rendered Jinja2 pages, no JavaScript to build) over a
``CampaignFolder``; every request passes the ``Guard``. Reports and downloaded batches
are written to a scratch folder of the server's own, never into the campaign folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from matloop.errors import ConfigError
from matloop.web.folder import CampaignFolder
from matloop.web.guard import LOOPBACK, MAX_BODY, Guard, refused

TOKEN_VARIABLE = "MATLOOP_SERVE_TOKEN"


def create_app(folder: str | Path, token: str | None = None, max_body: int = MAX_BODY,
               scratch: str | Path | None = None) -> Starlette:
    """The application serving every campaign file in ``folder``; ``token``: required on
    every request when given; ``max_body``: the largest request body (bytes);
    ``scratch``: where reports and batch files are written (default: a new temporary
    folder)."""
    from matloop.web import api, pages

    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder")
    app = Starlette(routes=[*api.ROUTES, *pages.ROUTES],
                    middleware=[Middleware(Guard, token=token, max_body=max_body)],
                    exception_handlers={404: not_found, 405: not_found},
                    lifespan=closing_sessions)
    app.state.folder = CampaignFolder(root)
    app.state.scratch = Path(scratch) if scratch is not None else \
        Path(tempfile.mkdtemp(prefix="matloop-serve-"))
    return app


@asynccontextmanager
async def closing_sessions(app: Starlette) -> AsyncIterator[None]:
    """The server's lifetime: its campaigns' sessions (database connections) are
    closed when it stops."""
    yield
    app.state.folder.close()


async def not_found(request: Request, exc: Exception) -> Response:
    """No such page or method: JSON under ``/api``, text elsewhere."""
    status = getattr(exc, "status_code", 404)
    message = "no such page" if status == 404 else "not allowed here"
    return refused(request.url.path.startswith("/api/"), status, message)


def check_host(host: str, token: str | None) -> None:
    """``ConfigError`` for a server reachable from the network without a token."""
    if host not in LOOPBACK and not token:
        raise ConfigError(f"--host {host}: a server others can reach needs a token "
                          f"(--token, or the {TOKEN_VARIABLE} environment variable)")
