"""FastAPI under uvicorn, exporting to the receiver named by BACKLIGHT_TEST_URL."""

import logging
import os

from fastapi import FastAPI

import backlight
from backlight.integrations.asgi import BacklightMiddleware

backlight.init(
    "test-project",
    backend_url=os.environ["BACKLIGHT_TEST_URL"],
    service_name="fastapi-app",
    export_interval=0.2,
)
app = FastAPI(telemetry={"tracing": False, "logs": False})
app.add_middleware(BacklightMiddleware)
log = logging.getLogger("app")


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    log.info("item %d", item_id)
    return {"id": item_id}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("fastapi under uvicorn failed")
