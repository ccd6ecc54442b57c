"""What every request must show before the server acts on it.

- **Token.** With a token (``--token`` or ``MATLOOP_SERVE_TOKEN``), every request carries
  it: ``Authorization: Bearer <token>``, or the cookie a browser gets by opening any page
  once with ``?token=<token>``. Without one, the server listens on loopback only.
- **Forms.** A page's forms carry the value of a ``SameSite=Strict`` cookie
  (double-submit), so another site cannot post a form for the user.
- **API writes.** ``POST /api/...`` needs a JSON body or the ``X-Matloop-Request``
  header: a page on another site can send neither without the browser asking first.
- **Size.** A request body larger than the limit (10 MB by default) is refused unread.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

TOKEN_COOKIE = "matloop_token"
FORM_COOKIE = "matloop_form"
API_HEADER = "X-Matloop-Request"
MAX_BODY = 10 * 1024 * 1024  # bytes
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two secrets (False when either is missing)."""
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


class Guard(BaseHTTPMiddleware):
    """Checks the token, the body's size and an API write's origin (see the module)."""

    def __init__(self, app: object, token: str | None, max_body: int = MAX_BODY) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token
        self.max_body = max_body

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint
                       ) -> Response:
        api = request.url.path.startswith("/api/")
        if self.token is not None:
            offered = request.query_params.get("token")
            if offered is not None and same(offered, self.token) and not api:
                page = RedirectResponse(request.url.remove_query_params("token"), 303)
                page.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                return page
            header = request.headers.get("authorization", "")
            given = header[7:] if header.lower().startswith("bearer ") else \
                request.cookies.get(TOKEN_COOKIE)
            if not same(given, self.token):
                return refused(api, 401, "a token is needed: open the page with "
                               "?token=... or send Authorization: Bearer ...")
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return refused(api, 411, "the request must give its length")
            if int(length) > self.max_body:
                return refused(api, 413, f"the upload is larger than "
                               f"{self.max_body / 1e6:g} MB")
            json_body = request.headers.get("content-type", "").startswith(
                "application/json")
            if api and not json_body and API_HEADER.lower() not in request.headers:
                return refused(api, 403, f"an API write sends JSON or the {API_HEADER} "
                               "header")
        return await call_next(request)


def refused(api: bool, status: int, message: str) -> Response:
    if api:
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def form_secret(request: Request) -> str:
    """The value a page's forms carry: its cookie's, or a new one (``remember``)."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def remember(response: Response, secret: str) -> Response:
    response.set_cookie(FORM_COOKIE, secret, httponly=True, samesite="strict")
    return response


def form_ok(request: Request, sent: object) -> bool:
    """True when a posted form carries its page's secret."""
    return isinstance(sent, str) and same(sent, request.cookies.get(FORM_COOKIE))
