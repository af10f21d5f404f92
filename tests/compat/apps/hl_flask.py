"""A Flask app instrumented with the real highlight-io SDK (runs in .venv-compat)."""

import logging
import os

import highlight_io
from flask import Flask, Response, request
from highlight_io.integrations.flask import FlaskIntegration

app = Flask(__name__)
H = highlight_io.H(
    os.environ["PROJECT"],
    integrations=[FlaskIntegration()],
    otlp_endpoint=os.environ["OTLP"],
    instrument_logging=True,
    service_name="hl-flask",
    environment="test",
)
log = logging.getLogger("shop")


@app.after_request
def cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    response.headers["Access-Control-Allow-Headers"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    return response


@app.route("/health")
def health() -> dict[str, bool]:
    return {"ok": True}


@app.route("/ok", methods=["GET", "OPTIONS"])
def ok() -> dict[str, bool]:
    log.info("flask checkout ok")
    return {"ok": True}


@app.route("/fail", methods=["GET", "OPTIONS"])
def fail() -> dict[str, bool]:
    if request.method == "OPTIONS":
        return {"ok": True}
    log.warning("flask stock check failing")
    raise RuntimeError("flask inventory exploded")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
