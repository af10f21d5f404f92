"""Security headers of the UI and API responses, and the Content-Security-Policy.

The session replayer rebuilds recorded pages in an ``about:blank`` iframe, which inherits
this policy: so no directive may allow another origin, or a recorded ``<img src>``, CSS
``url()``, ``@font-face``, stylesheet, poster, iframe… would make the viewer's browser fetch
it (a ping to whoever recorded the page). ``data:``/``blob:`` are what the replayer itself
uses; ``'unsafe-inline'`` styles because rrweb inlines recorded stylesheets and our templates
use ``style`` attributes. No inline script: the templates' only inline ``<script>`` blocks are
``type="application/json"`` data, which CSP does not run.
"""

from __future__ import annotations

UI_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src data: blob:",
        "font-src data:",
        "media-src data: blob:",
        "connect-src 'self'",
        "frame-src 'none'",
        "child-src 'none'",
        "worker-src 'none'",
        "object-src 'none'",
        "manifest-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# FastAPI's Swagger UI page: its script and stylesheet come from the jsDelivr CDN and it
# starts with an inline script. It shows only our own OpenAPI document, never recorded data.
DOCS_PATH = "/api/docs"
DOCS_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'unsafe-inline' https://cdn.jsdelivr.net",
        "img-src data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

NOSNIFF = (b"x-content-type-options", b"nosniff")


def _common(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        NOSNIFF,
        # "same-origin", not "no-referrer": under no-referrer browsers send `Origin: null`
        # on our own form posts and fetches, and the same-origin check needs the origin
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
    ]


UI_HEADERS = _common(UI_CSP)
DOCS_HEADERS = _common(DOCS_CSP)


def for_path(path: str) -> list[tuple[bytes, bytes]]:
    return DOCS_HEADERS if path == DOCS_PATH else UI_HEADERS
