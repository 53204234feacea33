"""The guests' web client: three files of package data (``server/web``) served as they are.

No build step and nothing from another origin: the page, its script and its style come from this
server, and the Content-Security-Policy says so to the browser. The invite token travels in the
link's fragment (``/#call=…&token=…``), which browsers never send to a server, so it stays out of
access logs and ``Referer`` headers.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

#: Path -> (file in ``server/web``, content type).
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/web/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/web/style.css": ("style.css", "text/css; charset=utf-8"),
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "media-src 'self' blob: mediastream:; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Permissions-Policy": "microphone=(self), camera=()",
}


def _load() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("mctui.server") / "web"
    return {path: ((folder / name).read_bytes(), kind) for path, (name, kind) in _FILES.items()}


def add_web_client(app: web.Application) -> None:
    """Serve the web client at ``/`` and its assets under ``/web/``."""
    files = _load()

    async def serve(request: web.Request) -> web.Response:
        body, kind = files[request.path]
        return web.Response(body=body, headers={**_HEADERS, "Content-Type": kind})

    for path in files:
        app.router.add_get(path, serve)
