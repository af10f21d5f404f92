"""api (FastAPI): the store's backend. Calls inventory over HTTP and enqueues jobs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, HTTPException
from starlette.middleware.cors import CORSMiddleware

import backlight
from backlight.integrations.asgi import BacklightMiddleware
from backlight.integrations.httpx import async_event_hooks
from demo.services import worker
from demo.services.common import CORS_HEADERS, INVENTORY_URL, PAGE_ORIGIN, QUEUE_URL, port, start
from demo.services.jobs import Jobs

log = start("api")
jobs = Jobs(QUEUE_URL)
if jobs.local:
    worker.start_thread(jobs, log)
inventory = httpx.AsyncClient(base_url=INVENTORY_URL, timeout=10, event_hooks=async_event_hooks())
PRODUCTS = [
    {"sku": "lamp", "name": "Desk lamp", "price": 39},
    {"sku": "mug", "name": "Backlit mug", "price": 12},
]

api = FastAPI(title="demo api")


@api.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@api.get("/api/products")
async def products() -> list[dict[str, Any]]:
    log.info("api: listing %d products", len(PRODUCTS))
    return PRODUCTS


@api.post("/api/checkout")
async def checkout() -> dict[str, Any]:
    log.warning("api: charging card")
    raise RuntimeError("payment gateway timed out after 3 retries")


@api.get("/api/stock/{sku}")
async def stock(sku: str) -> dict[str, Any]:
    log.info("api: asking inventory about %s", sku)
    resp = await inventory.get(f"/stock/{sku}")
    if resp.status_code >= 500:
        raise HTTPException(502, f"inventory failed for {sku}")
    data: dict[str, Any] = resp.json()
    return data


@api.post("/api/jobs")
async def enqueue(sku: str = "broken") -> dict[str, Any]:
    order_id = uuid.uuid4().hex[:8]
    jobs.put({"order_id": order_id, "sku": sku}, backlight.message_headers(as_dict=True))
    log.info("api: queued label job for order %s", order_id)
    return {"queued": order_id}


# CORS outermost, so even the 500 of an unhandled error reaches the page readable.
app = CORSMiddleware(
    BacklightMiddleware(api),
    allow_origins=[PAGE_ORIGIN],
    allow_methods=["*"],
    allow_headers=CORS_HEADERS,
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port("api", 8091), log_level="warning")
