"""inventory (Flask): stock levels, with an error three calls deep for one sku."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from backlight.integrations.wsgi import BacklightMiddleware
from demo.services.common import port, start

log = start("inventory")
flask_app = Flask("inventory")


class ShelfUnreadable(LookupError):
    pass


def read_shelf(sku: str) -> int:
    if sku == "broken":
        raise ShelfUnreadable(f"warehouse shelf 17 unreadable for sku {sku!r}")
    return 7


def locate(sku: str) -> int:
    log.info("inventory: locating %s", sku)
    return read_shelf(sku)


def count_stock(sku: str) -> int:
    return locate(sku)


@flask_app.get("/health")
def health() -> Any:
    return jsonify({"ok": True})


@flask_app.get("/stock/<sku>")
def stock(sku: str) -> Any:
    return jsonify({"sku": sku, "in_stock": count_stock(sku)})


app = BacklightMiddleware(flask_app.wsgi_app)
flask_app.wsgi_app = app  # type: ignore[method-assign]

if __name__ == "__main__":
    flask_app.run(host="127.0.0.1", port=port("inventory", 8092), threaded=True)
