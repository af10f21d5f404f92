"""partner (FastAPI): a second, cross-origin backend whose CORS allows the linkage headers."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from backlight.integrations.asgi import BacklightMiddleware
from demo.services.common import CORS_HEADERS, PAGE_ORIGIN, port, start

log = start("partner")
api = FastAPI(title="demo partner")


@api.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@api.get("/partner/rates")
async def rates() -> dict[str, Any]:
    log.info("partner: quoting shipping rates")
    return {"standard": 4.5, "express": 12}


app = CORSMiddleware(
    BacklightMiddleware(api),
    allow_origins=[PAGE_ORIGIN],
    allow_methods=["*"],
    allow_headers=CORS_HEADERS,
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port("partner", 8093), log_level="warning")
