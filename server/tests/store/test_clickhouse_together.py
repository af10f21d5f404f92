"""The ClickHouse store's reads: statements of a round run together (``together``), and
the requests seen by the server tallied from the rows a session view read (``tally``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from backlight_server.errors import StorageUnavailable
from backlight_server.store.clickhouse import together
from backlight_server.store.clickhouse.serverseen import tally
from backlight_server.store.clickhouse.transport import ChdbTransport


def test_each_call_runs_once_and_results_keep_their_order() -> None:
    threads: list[int] = []

    def call(n: int) -> int:
        threads.append(threading.get_ident())
        return n * 10

    assert together.run(*(lambda n=n: call(n) for n in range(5))) == [0, 10, 20, 30, 40]
    assert len(threads) == 5
    assert threads.count(threading.get_ident()) == 1  # the first call, on the caller


def test_an_error_is_raised_after_every_call_has_ended() -> None:
    ended = threading.Event()

    def slow() -> str:
        ended.wait(5)
        return "late"

    def boom() -> str:
        ended.set()
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        together.run(boom, slow)
    assert ended.is_set()


def test_a_call_on_the_pool_runs_its_own_rounds_one_after_another() -> None:
    """A call that runs on the pool never waits for the pool: with every worker inside such
    a call, a nested round still finishes."""

    def nested() -> list[bool]:
        inner = together.run(*(lambda: threading.get_ident() for _ in range(3)))
        return [t == threading.get_ident() for t in inner]

    results = together.run(*(nested for _ in range(together.WORKERS + 1)))
    assert results[0] == [True, False, False]  # the caller's round: on the pool too
    assert all(r == [True, True, True] for r in results[1:])


def test_statements_of_two_threads_run_on_two_connections(tmp_path: Path) -> None:
    tx = ChdbTransport(tmp_path / "chdb", 30_000)
    try:
        started = threading.Barrier(2, timeout=20)

        def read() -> Any:
            started.wait()  # both at once (each statement takes 0.3 s): the second
            return tx.query("SELECT sleep(0.3), 7")  # takes a connection of its own

        assert together.run(read, read) == [[[0, 7]], [[0, 7]]]
        assert tx._engine.connections() == 2
    finally:
        tx.close()


def test_tally_keeps_what_the_rule_reads_and_survives_any_stored_value() -> None:
    spans: list[tuple[object, object, object]] = [
        ("r1", 2_000_000, 3_000_000),  # ns: 2 to 3 ms
        ("r1", 1_000_000, 1_500_000),
        ("r2", 5_000_000, None),
        (None, 1, 2),
        ("r3", "soon", 1),
        ("r4", float("nan"), 1),
    ]
    errors: list[dict[str, Any]] = [
        {"request_id": "r2", "trace_id": "t2", "source": "backend", "ts_ms": 9.0},
        {"request_id": "r5", "trace_id": None, "source": "span", "ts_ms": 0.5},
        {"request_id": "r6", "trace_id": "r6", "source": "backend", "ts_ms": 1.0},  # a trace
        {"request_id": "r7", "trace_id": None, "source": "frontend", "ts_ms": 1.0},
        {"request_id": "known", "trace_id": None, "source": "log", "ts_ms": 1.0},
        {"request_id": 7, "trace_id": None, "source": "log", "ts_ms": 1.0},
        {"request_id": "r8", "trace_id": None, "source": "log", "ts_ms": "x"},
    ]
    got = tally(spans, errors, {"known"}, scan=100, limit=2)
    # requests r5, r1, r2 (and r8, whose only time is no number, is left out); the first two
    assert got == [("r5", 0.5, 0.5, 3, 6, 3), ("r1", 1.0, 3.0, 3, 6, 3)]
    assert tally(spans, errors, set(), scan=1, limit=10)[0][5] == 1  # errors read: the scan


def test_a_statement_after_close_fails_and_leaves_the_engine_stopped(tmp_path: Path) -> None:
    """A late statement (a background job at shutdown) must not open a connection again:
    that would start the engine on this folder for good, and no other folder could open."""
    first = ChdbTransport(tmp_path / "a", 30_000)
    assert first.query("SELECT 1") == [[1]]
    first.close()
    with pytest.raises(StorageUnavailable):
        first.query("SELECT 1")
    other = ChdbTransport(tmp_path / "b", 30_000)
    try:
        assert other.query("SELECT 2") == [[2]]
    finally:
        other.close()
