"""A FastAPI app instrumented with the real highlight-io SDK (runs in .venv-compat)."""

import logging
import os

import highlight_io
import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from highlight_io.integrations.fastapi import FastAPIMiddleware

H = highlight_io.H(
    os.environ["PROJECT"],
    otlp_endpoint=os.environ["OTLP"],
    instrument_logging=True,
    service_name="hl-fastapi",
    environment="test",
)
app = FastAPI()
app.add_middleware(FastAPIMiddleware)
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
log = logging.getLogger("shop")


class InventoryError(Exception):
    pass


@app.exception_handler(InventoryError)
async def inventory_failed(_: Request, exc: InventoryError) -> JSONResponse:
    H.record_exception(exc)
    return JSONResponse({"error": str(exc)}, status_code=500)


@app.get("/health")
def health() -> dict[str, bool]:
    return {"ok": True}


@app.get("/ok")
def ok() -> dict[str, bool]:
    log.info("fastapi checkout ok")
    return {"ok": True}


@app.get("/fail")
def fail() -> dict[str, bool]:
    log.warning("fastapi stock check failing")
    raise InventoryError("fastapi inventory exploded")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
