"""Server-rendered shops for the navigation-linking tests (issue 24): the same pages in
Flask (``flask_shop``) and Django (``django_shop``), each with the Python SDK's middleware
and the browser SDK. Both read ``BACKLIGHT_URL`` (the ``backlight serve`` address) and
``BACKLIGHT_PROJECT`` from the environment, and serve:

- ``GET /``: a page with a link to ``/orders`` and a form that posts to ``/checkout``;
- ``GET /orders``: a page whose view logs ``orders listed`` (``INFO``, logger ``shop``);
- ``POST /checkout``: the view logs ``checkout started``, raises ``CheckoutFailed``, records
  it (``logger.exception`` and ``backlight.record_exception``: a linked error on the
  request's span) and answers ``303 See Other`` to ``/orders?failed=1``, as an app that
  turns a failure into a flash message and a redirect does.

Each page declares an empty icon: Chromium asks for no ``/favicon.ico``, a request the
session cookie would link too (a row "seen by the server" that is no step of the tests).

Run one with werkzeug or gunicorn (``flask_shop:app``) or any WSGI server
(``django_shop:application``).
"""

from __future__ import annotations

import html
import json
import os

PROJECT_ENV, URL_ENV = "BACKLIGHT_PROJECT", "BACKLIGHT_URL"
ORDERS_LOG, CHECKOUT_LOG = "orders listed", "checkout started"


class CheckoutFailed(Exception):
    pass


def settings() -> tuple[str, str]:
    """(backend URL, project id) from the environment."""
    return os.environ[URL_ENV].rstrip("/"), os.environ.get(PROJECT_ENV, "default")


def page(title: str, head: str = "", body: str = "") -> str:
    """A page with the browser SDK (``tracingOrigins: true``) and the shop's links."""
    url, project = settings()
    init = json.dumps({"backendUrl": url, "tracingOrigins": True})
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<link rel='icon' href='data:,'>"
        f"<title>{html.escape(title)}</title>{head}"
        f"<script src='{html.escape(url)}/sdk/backlight.js'></script>"
        f"<script>H.init({json.dumps(project)}, {init})</script></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}"
        "<a id='orders' href='/orders'>Orders</a>"
        "<form id='checkout' method='post' action='/checkout'>"
        "<input type='hidden' name='sku' value='42'><button id='buy'>Buy</button></form>"
        "</body></html>"
    )
