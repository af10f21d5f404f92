"""structlog (through stdlib logging) and loguru (through our sink) are linked too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sdk_capture import REQUEST, SESSION, Receiver

import backlight


@pytest.fixture
def structlog_stdlib() -> Iterator[None]:
    import structlog

    from backlight.integrations.structlog import add_request_link

    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            add_request_link,
            structlog.stdlib.render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    yield
    structlog.reset_defaults()


def test_structlog_through_stdlib(sdk: Receiver, structlog_stdlib: None) -> None:
    import structlog

    logger = structlog.get_logger("structured")
    with backlight.trace("job", secure_session_id=SESSION, request_id=REQUEST):
        logger.info("order placed", order_id=7)
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            logger.exception("order failed")
    sdk.wait_for(lambda r: len(r.logs_from("structured")) == 2)
    placed, failed = sdk.logs_from("structured")
    assert placed.body == "order placed"
    assert placed.attributes["order_id"] == 7
    assert placed.link == (SESSION, REQUEST)
    assert failed.link == (SESSION, REQUEST)
    assert failed.attributes["exception.type"] == "ZeroDivisionError"
    assert "1 / 0" in failed.attributes["exception.stacktrace"]


def test_loguru_sink(sdk: Receiver) -> None:
    from loguru import logger

    from backlight.integrations.loguru import sink

    handler_id = logger.add(sink, level="INFO")
    try:
        with backlight.trace("job", secure_session_id=SESSION, request_id=REQUEST):
            logger.bind(cart=3).warning("cart is large")
            try:
                raise KeyError("sku")
            except KeyError:
                logger.exception("lookup failed")
        logger.info("outside any request")
    finally:
        logger.remove(handler_id)
    sdk.wait_for(lambda r: len(r.logs) >= 3)
    by_body = {x.body: x for x in sdk.logs}
    large = by_body["cart is large"]
    assert large.link == (SESSION, REQUEST)
    assert large.attributes["cart"] == 3
    assert large.severity_text == "WARN"
    failed = by_body["lookup failed"]
    assert failed.link == (SESSION, REQUEST)
    assert failed.attributes["exception.type"] == "KeyError"
    assert failed.severity_number == 17
    assert by_body["outside any request"].link == (None, None)


def test_logger_exception_is_a_linked_error_record(sdk: Receiver) -> None:
    import logging

    with backlight.trace("job", secure_session_id=SESSION, request_id=REQUEST):
        try:
            raise ValueError("bad input")
        except ValueError:
            logging.getLogger("app").exception("could not parse")
    sdk.wait_for(lambda r: bool(r.logs_from("app")))
    record = sdk.logs_from("app")[0]
    assert record.link == (SESSION, REQUEST)
    assert record.severity_text == "ERROR"
    assert record.attributes["exception.type"] == "ValueError"
    assert record.attributes["exception.message"] == "bad input"
    assert "raise ValueError" in record.attributes["exception.stacktrace"]


def test_log_level_filters_and_capture_logging_off(receiver: Receiver) -> None:
    import logging

    backlight.init("p", backend_url=receiver.url, log_level=logging.WARNING, export_interval=0.05)
    try:
        logging.getLogger("app").info("dropped by level")
        logging.getLogger("app").warning("kept")
        receiver.wait_for(lambda r: bool(r.logs_from("app")))
        assert [x.body for x in receiver.logs_from("app")] == ["kept"]
        backlight.init("p", backend_url=receiver.url, capture_logging=False)
        logging.getLogger("app").error("not captured")
        backlight.flush()
        assert [x.body for x in receiver.logs_from("app")] == ["kept"]
    finally:
        backlight.shutdown()
