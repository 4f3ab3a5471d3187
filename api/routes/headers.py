"""Security headers on every answer: Content-Security-Policy, framing, sniffing, referrer, HSTS.

:class:`SecurityHeaders` (ASGI middleware) adds to every HTTP response that does not set them
itself:

- ``Content-Security-Policy``: :data:`DEFAULT_CSP` — scripts, styles, images, fonts and
  requests only from this origin, no inline script and no inline style, no plugins, no
  ``<base>``, forms posting only here, and ``frame-ancestors 'none'``; violations are
  reported to ``POST /csp-report`` (logged). The staff pages
  (``/app/*``, ``/public``) and the planner keep their scripts and styles in served files and
  read their settings from a JSON data block (``<script type="application/json">``, which is
  data, not script), so they need nothing more.
- ``X-Frame-Options: DENY`` (older browsers' ``frame-ancestors``), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: no-referrer``, ``Cross-Origin-Opener-Policy: same-origin``;
- ``Strict-Transport-Security`` only when the request came over TLS (the ASGI scheme is
  ``https``: uvicorn behind a trusted proxy with ``--proxy-headers``) or the deployment says
  it is behind TLS (``WANGGE_BEHIND_TLS``): a plain-HTTP intranet server must not pin HTTPS.

No CORS headers are sent: browsers then refuse cross-origin reads of the API.

FastAPI's interactive documentation (``/docs``, ``/redoc``) is generated HTML with one inline
script and assets from a public CDN: the middleware hashes its inline scripts as it passes
(:data:`DOCS_PATHS`) and allows that CDN for those pages only (:data:`DOCS_SOURCES`).

The folium maps (``/maps/*``) are generated HTML with inline scripts (the map set-up) and
inline styles (legend swatches, popups). They are answered by :func:`html_with_hashes`, whose
policy allows exactly the inline scripts of that response by their SHA-256 hashes (computed
from the generated HTML) rather than a per-response nonce: the bytes served are exactly the
bytes folium wrote (a saved map and a served map are the same file), no HTML is rewritten,
and an answer is a pure function of its content. Styles there are allowed inline
(``'unsafe-inline'`` for ``style-src`` only; scripts never), because folium writes
``style=`` attributes that no hash list could follow.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping

from fastapi.responses import HTMLResponse

__all__ = [
    "DEFAULT_CSP",
    "SecurityHeaders",
    "content_security_policy",
    "html_with_hashes",
    "inline_script_hashes",
]

_BASE: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:", "blob:"),
    "font-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
    "report-uri": ("/csp-report",),  # api.routes.csp_report logs what browsers send
}


def content_security_policy(
    *,
    script_hashes: Iterable[str] = (),
    inline_styles: bool = False,
    extra: Mapping[str, Iterable[str]] | None = None,
) -> str:
    """The CSP header value: :data:`DEFAULT_CSP` plus the given script hashes
    (``sha256-...``), inline styles when asked, and ``extra`` sources per directive."""
    policy = {name: list(sources) for name, sources in _BASE.items()}
    policy["script-src"] += [f"'{h}'" for h in script_hashes]
    if inline_styles:
        policy["style-src"].append("'unsafe-inline'")
    for name, sources in (extra or {}).items():
        policy.setdefault(name, []).extend(sources)
    return "; ".join(f"{name} {' '.join(dict.fromkeys(src))}" for name, src in policy.items())


DEFAULT_CSP = content_security_policy()

# an inline (no src=) script element and its text; data blocks (JSON) are hashed too, harmless
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)


def inline_script_hashes(html: str) -> list[str]:
    """``sha256-<base64>`` of the text of each inline script of ``html``, in order, unique.

    Browsers hash the element's text as UTF-8 after the parser's newline normalisation
    (CR LF and lone CR become LF), so that is what is hashed here.
    """
    found: dict[str, None] = {}
    for body in _INLINE_SCRIPT.findall(html):
        text = body.replace("\r\n", "\n").replace("\r", "\n")
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        found[f"sha256-{digest}"] = None
    return list(found)


def html_with_hashes(
    html: str,
    *,
    inline_styles: bool = True,
    extra: Mapping[str, Iterable[str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """An HTML answer whose CSP allows exactly its own inline scripts (by hash)."""
    policy = content_security_policy(
        script_hashes=inline_script_hashes(html), inline_styles=inline_styles, extra=extra
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": policy})


HSTS = "max-age=31536000; includeSubDomains"
_FIXED = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
DOCS_SOURCES = {
    "script-src": ("https://cdn.jsdelivr.net",),
    "style-src": ("https://cdn.jsdelivr.net", "https://fonts.googleapis.com"),
    "font-src": ("https://fonts.gstatic.com",),
    "img-src": ("https://fastapi.tiangolo.com", "https://cdn.redoc.ly"),
    "worker-src": ("'self'", "blob:"),
}


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response lacking them.

    ``behind_tls``: send HSTS on every answer (the deployment terminates TLS in front);
    otherwise only on requests whose scheme is ``https``.
    """

    def __init__(self, app, *, behind_tls: bool = False) -> None:
        self.app, self.behind_tls = app, behind_tls

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hsts = self.behind_tls or scope.get("scheme") == "https"

        def with_headers(message, csp: str = DEFAULT_CSP):
            headers = list(message.get("headers") or [])
            present = {name.lower() for name, _ in headers}
            add = [
                (b"content-security-policy", csp.encode()),
                *_FIXED,
                *([(b"strict-transport-security", HSTS.encode())] if hsts else []),
            ]
            headers += [(n, v) for n, v in add if n not in present]
            return {**message, "headers": headers}

        if scope.get("path") in DOCS_PATHS:
            await self._docs(scope, receive, send, with_headers)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = with_headers(message)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope, receive, send, with_headers) -> None:
        """The documentation pages: held whole (they are small), their scripts hashed."""
        start, chunks = None, []

        async def hold(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            csp = content_security_policy(
                script_hashes=inline_script_hashes(body.decode("utf-8", "replace")),
                extra=DOCS_SOURCES,
            )
            await send(with_headers(start, csp))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)
