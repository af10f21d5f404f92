"""The compose example's app (deploy/compose.yaml): one FastAPI process with Backlight's
Python SDK, serving a page that loads the browser SDK from Backlight.

Open the page, click the buttons, then open Backlight: the session's replay, and on each
request of it the backend's span, log and (for "Checkout") the error.

Settings, from the environment:
- ``BACKLIGHT_PROJECT``: the project id (compose creates the project ``shop``);
- ``BACKLIGHT_URL``: where this process sends its spans and logs (compose: the
  ``backlight`` service on the compose network);
- ``BACKLIGHT_BROWSER_URL``: where the user's browser reaches Backlight (compose: the port
  published on the host).
"""

from __future__ import annotations

import html
import json
import logging
import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

import backlight
from backlight.integrations.asgi import BacklightMiddleware

PROJECT = os.environ.get("BACKLIGHT_PROJECT", "shop")
BACKEND_URL = os.environ.get("BACKLIGHT_URL", "http://backlight:8082")
BROWSER_URL = os.environ.get("BACKLIGHT_BROWSER_URL", "http://localhost:8082")

backlight.init(PROJECT, backend_url=BACKEND_URL, service_name="shop-api")

api = FastAPI()
log = logging.getLogger("shop")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="{sdk}"></script>
<script>
  H.init({project}, {{networkRecording: {{enabled: true, recordHeadersAndBody: true}}}})
</script>
</head><body>
<h1>Shop</h1>
<button id="browse" onclick="fetch('/api/items').then(r => r.json())">Browse</button>
<button id="checkout" onclick="fetch('/api/checkout', {{method: 'POST'}})">Checkout</button>
</body></html>
"""


@api.get("/", response_class=HTMLResponse)
def page() -> str:
    sdk = html.escape(BROWSER_URL.rstrip("/") + "/sdk/backlight.js")
    return PAGE.format(sdk=sdk, project=json.dumps(PROJECT).replace("<", "\\u003c"))


@api.get("/api/items")
def items() -> dict[str, list[str]]:
    log.info("listing items")
    return {"items": ["lamp", "desk"]}


@api.post("/api/checkout")
def checkout() -> dict[str, str]:
    log.warning("payment provider answered 402")
    raise RuntimeError("payment declined")


# the page's requests go to its own origin, which the browser SDK stamps by default
app = BacklightMiddleware(api)
