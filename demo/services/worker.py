"""worker: takes jobs from the queue, restores the browser link from the job's headers."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import backlight
from demo.services.jobs import Jobs


class PrinterJam(RuntimeError):
    pass


def print_label(order: dict[str, Any]) -> None:
    if order.get("sku") == "broken":
        raise PrinterJam(f"label printer jammed on order {order.get('order_id')}")


def handle(payload: dict[str, Any], headers: dict[str, str], log: logging.Logger) -> None:
    link = backlight.parse_headers(headers)
    with backlight.consume(headers):
        log.info("worker: printing label for order %s", payload.get("order_id"))
        try:
            print_label(payload)
        except PrinterJam as exc:
            log.error("worker: job failed: %s", exc)
            backlight.consume_error(
                exc,
                link.secure_session_id if link else None,
                link.request_id if link else None,
                attributes={"job": "print_label"},
            )


def run(jobs: Jobs, log: logging.Logger) -> None:
    for payload, headers in jobs.take("worker-1"):
        try:
            handle(payload, headers, log)
        except Exception:
            log.exception("worker: unexpected failure")
        time.sleep(0)


def start_thread(jobs: Jobs, log: logging.Logger) -> None:
    threading.Thread(target=run, args=(jobs, log), name="demo-worker", daemon=True).start()


if __name__ == "__main__":
    from demo.services.common import QUEUE_URL, start

    run(Jobs(QUEUE_URL), start("worker"))
