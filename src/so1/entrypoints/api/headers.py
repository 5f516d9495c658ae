"""Security headers on every response (pure ASGI, so streams are untouched).

Pages get a Content-Security-Policy that allows only SO1's own files: no inline script or style
(the pages have none; their CSS and script are under /static), no framing (clickjacking), no
plugins, forms only to SO1. The interactive API docs (/docs, /redoc) are served from the
package too (fastapi-offline), but start with an inline script: their policy allows inline
script and style and nothing from another host.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # login links and incident ids stay on SO1
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers without CSP 2
)
DOCS = ("/docs", "/redoc")
# What an API answer outside the docs gets (the express lane, express.py, adds them itself).
API_HEADERS = (*COMMON, (b"content-security-policy", PAGE_POLICY.encode()))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(DOCS)
        policy = (DOCS_POLICY if docs else PAGE_POLICY).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(n, v) for n, v in COMMON if n not in present]
                if b"content-security-policy" not in present:
                    added.append((b"content-security-policy", policy))
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, with_headers)
