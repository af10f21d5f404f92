"""Starlette under uvicorn, exporting to the receiver named by BACKLIGHT_TEST_URL."""

import logging
import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import backlight
from backlight.integrations.asgi import BacklightMiddleware

backlight.init(
    "test-project",
    backend_url=os.environ["BACKLIGHT_TEST_URL"],
    service_name="starlette-app",
    export_interval=0.2,
)
log = logging.getLogger("app")


async def item(request: Request) -> PlainTextResponse:
    log.info("item %s", request.path_params["item_id"])
    return PlainTextResponse("ok")


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("starlette under uvicorn failed")


app = Starlette(
    routes=[Route("/items/{item_id}", item), Route("/boom", boom)],
    middleware=[Middleware(BacklightMiddleware)],
)
