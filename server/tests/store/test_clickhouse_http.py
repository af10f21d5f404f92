"""The ``clickhouse://`` transport, through the real client (clickhouse-connect) over
loopback HTTP to the stand-in server (``blclickhouse``) on the real engine: what the
conformance suite does not single out. Values bind the same way as on the embedded
engine, long parameters travel as a form, answers come compressed, engine errors reach the
client with their code, the time limit is ``QueryTimeout``, and the store's database is
made when it is missing and used as it is when it exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import orjson
import pytest
from blclickhouse import ClickhouseStandIn
from clickhouse_connect.driver.exceptions import DatabaseError

from backlight_server.errors import QueryTimeout
from backlight_server.store.clickhouse.transport import (
    NO_LIMIT,
    ChdbTransport,
    HttpTransport,
    Transport,
)

# Text that a careless binding breaks: quotes, backslashes, control characters, braces
# (placeholder syntax), non-ASCII, and what looks like SQL.
TRICKY = [
    "it's",
    'a "quoted" word',
    "back\\slash\\",
    "tab\tnew\nline\rreturn",
    "{s:String}",
    "ünïcødé — 日本語 🙂",
    "'; DROP TABLE t; --",
    "",
]
BIG = 2**63 + 5  # past Int64: must stay exact through JSON both ways


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[ClickhouseStandIn]:
    server = ClickhouseStandIn(tmp_path / "server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def http(
    server: ClickhouseStandIn, database: str = "shop", timeout_ms: int = 30_000
) -> HttpTransport:
    return HttpTransport(f"clickhouse://default:@127.0.0.1:{server.port}/{database}", timeout_ms)


def _round_trip(tx: Transport) -> list[Any]:
    """The same statements, parameters and insert on any transport; what came back."""
    tx.command(
        "CREATE TABLE t (n UInt64, s String, tags Array(String), f Float64, o Nullable(String)) "
        "ENGINE = MergeTree ORDER BY n"
    )
    rows = [[BIG - i, text, [text, "x"], i / 3, text or None] for i, text in enumerate(TRICKY)]
    tx.insert("t", ["n", "s", "tags", "f", "o"], b"\n".join(map(orjson.dumps, rows)), NO_LIMIT)
    found: list[Any] = []
    for text in TRICKY:
        found.append(
            tx.query(
                "SELECT n, s, tags, f, o FROM t WHERE s = {s:String} AND has(tags, {s:String}) "
                "AND n IN {ns:Array(UInt64)}",
                {"s": text, "ns": [BIG - i for i in range(len(TRICKY))]},
            )
        )
    found.append(
        tx.records("SELECT count() AS c, max(n) AS top FROM t WHERE n >= {n:UInt64}", {"n": BIG})
    )
    return found


def test_values_bind_the_same_over_http_as_embedded(
    standin: ClickhouseStandIn, tmp_path: Path
) -> None:
    over_http = http(standin)
    try:
        answers = _round_trip(over_http)
    finally:
        over_http.close()
    standin.stop()  # one engine per process: the embedded one opens after
    embedded = ChdbTransport(tmp_path / "embedded", 30_000)
    try:
        assert _round_trip(embedded) == answers
    finally:
        embedded.close()
    for i, text in enumerate(TRICKY):
        assert answers[i] == [[BIG - i, text, [text, "x"], i / 3, text or None]]
    assert answers[-1] == [{"c": 1, "top": BIG}]


def test_long_parameters_travel_as_a_form(standin: ClickhouseStandIn) -> None:
    tx = http(standin)
    try:
        ids = [f"{i:032x}" for i in range(400)]  # ~14 KB of parameters: too long for a URL
        rows = tx.query(
            "SELECT length({ids:Array(String)}), {ids:Array(String)}[400]", {"ids": ids}
        )
        assert rows == [[400, ids[-1]]]
        assert standin.seen["form"] >= 1
    finally:
        tx.close()


def test_the_stand_in_compresses_answers_when_the_client_asks(standin: ClickhouseStandIn) -> None:
    """The store's transport asks for no compression (raw queries and inserts); the
    client's typed query path does, and the stand-in answers it as a server would."""
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=standin.port, autogenerate_session_id=False
    )
    try:
        rows = client.query("SELECT number FROM numbers(1000) ORDER BY number").result_rows
        assert rows[-1] == (999,)
        assert standin.seen["answer:lz4"] >= 1  # the first method the client offers
    finally:
        client.close()


def test_engine_errors_reach_the_client_with_their_code(standin: ClickhouseStandIn) -> None:
    tx = http(standin)
    try:
        with pytest.raises(DatabaseError) as caught:
            tx.query("SELECT * FROM no_such_table")
        assert caught.value.code == 60 and "UNKNOWN_TABLE" in str(caught.value)
        with pytest.raises(DatabaseError) as caught:
            tx.command("SELEC 1")
        assert caught.value.code == 62 and "SYNTAX_ERROR" in str(caught.value)
        # the failed statements left nothing behind: the next one runs normally
        assert tx.query("SELECT 1") == [[1]]
    finally:
        tx.close()


def test_the_time_limit_is_a_query_timeout(standin: ClickhouseStandIn) -> None:
    tx = http(standin, timeout_ms=0)  # the smallest limit: any query that sleeps runs past it
    try:
        with pytest.raises(QueryTimeout):
            tx.query("SELECT sleep(0.2)")
        with pytest.raises(QueryTimeout):
            tx.records("SELECT sleep(0.2) AS s")
        # the store's own statements are not bound by it
        assert tx.query("SELECT sleep(0.2), 1", settings=NO_LIMIT) == [[0, 1]]
        # and a request's settings do not outlive it on the server
        other = http(standin, timeout_ms=30_000)
        try:
            assert other.query("SELECT getSetting('max_execution_time')") == [[30]]
        finally:
            other.close()
    finally:
        tx.close()


def test_the_database_is_made_when_missing_and_kept_when_present(
    standin: ClickhouseStandIn,
) -> None:
    first = http(standin, "shop")
    try:
        first.command("CREATE TABLE kept (n UInt8) ENGINE = MergeTree ORDER BY n")
        first.command("INSERT INTO kept VALUES (7)")
        assert first.query("SELECT currentDatabase()") == [["shop"]]
    finally:
        first.close()
    again = http(standin, "shop")
    try:
        assert again.query("SELECT n FROM kept") == [[7]]
    finally:
        again.close()
    assert standin.seen["error:81"] == 0  # no request ran in a database that did not exist
