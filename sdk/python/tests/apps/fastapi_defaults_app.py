"""FastAPI with its default telemetry settings under uvicorn, exporting to the receiver
named by BACKLIGHT_TEST_URL. Backlight is added as the README says (the app wrapped), or
with ``add_middleware`` when BACKLIGHT_TEST_FORM=add_middleware."""

import logging
import os

from fastapi import FastAPI

import backlight
from backlight.integrations.asgi import BacklightMiddleware

backlight.init(
    "test-project",
    backend_url=os.environ["BACKLIGHT_TEST_URL"],
    service_name="fastapi-defaults",
    export_interval=0.2,
)
api = FastAPI()  # native telemetry on: backlight.init has set a tracer provider
log = logging.getLogger("app")


@api.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    log.info("item %d", item_id)
    return {"id": item_id}


@api.get("/boom")
async def boom() -> None:
    raise RuntimeError("fastapi with its telemetry on failed")


if os.environ.get("BACKLIGHT_TEST_FORM") == "add_middleware":
    api.add_middleware(BacklightMiddleware)
    app = api
else:
    app = BacklightMiddleware(api)  # type: ignore[assignment]
