"""How SQL reaches a ClickHouse engine: embedded (chdb) or a server over HTTP
(clickhouse-connect). Every statement of the store runs unchanged on both.

Statements name their parameters ClickHouse's way, ``{name:Type}``; values are formatted
by clickhouse-connect's own binding rules on both transports. Rows come back as lists of
Python values in column order. Inserts send JSONCompactEachRow text (one JSON array a
row, in the order of the named columns).
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol
from urllib.parse import unquote, urlsplit

import orjson

from backlight_server.errors import QueryTimeout, StorageUnavailable

Params = Mapping[str, Any]
Settings = Mapping[str, str | int | float]

# Output that survives a round trip through JSON: 64-bit integers as numbers, NaN and
# infinities as null. A column name means the column even where an aggregate of the same
# select is aliased to it (``any(project_id) AS project_id ... WHERE project_id = …``).
_OUTPUT = {
    "prefer_column_name_to_alias": 1,
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_denormals": 0,
    "output_format_json_validate_utf8": 1,
}
_TIMEOUT_CODE = "TIMEOUT_EXCEEDED"
# For statements of the store's own (schema, writes, leases): not bound by the time limit
# of query-API reads.
NO_LIMIT: Settings = {"max_execution_time": 0}


class Transport(Protocol):
    def query(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> list[list[Any]]: ...
    def records(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        """Rows as dicts by column name."""
        ...

    def command(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> None: ...
    def insert(self, table: str, columns: Sequence[str], rows: bytes, settings: Settings) -> None:
        """Insert ``rows`` (JSONCompactEachRow text, one array a line) into ``table``."""
        ...

    def close(self) -> None: ...


def _bind(params: Params | None) -> dict[str, str]:
    from clickhouse_connect.driver.binding import format_bind_value

    return {k: format_bind_value(v, None) for k, v in (params or {}).items()}


def _settings_clause(settings: Settings | None) -> str:
    if not settings:
        return ""
    parts = []
    for key, value in settings.items():
        literal = (
            repr(value)
            if isinstance(value, int | float)
            else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        )
        parts.append(f"{key} = {literal}")
    return " SETTINGS " + ", ".join(parts)


class _Engine:
    """The embedded engine of one folder in this process, and its connections.

    The engine runs statements of different connections in parallel (chdb 26: "concurrent
    queries from different connections are safe and run in parallel"); one connection runs
    one statement at a time. So each statement borrows an idle connection, and a new one is
    opened when none is idle, up to ``MAX_CONNECTIONS``; more callers wait for one.

    Once closed, it opens none again: a statement then fails (a connection opened after
    the last one closed would start the engine again, for good, on this folder).
    """

    MAX_CONNECTIONS = 8
    CLOSE_WAIT_S = 30.0

    def __init__(self, folder: Path) -> None:
        from chdb import session

        self._open = session.Session
        self.folder = folder
        first = self._open(str(folder))  # type: ignore[no-untyped-call]
        self._all: list[Any] = [first]
        self._idle: list[Any] = [first]
        self._busy = 0
        self._closed = False
        self._slots = threading.BoundedSemaphore(self.MAX_CONNECTIONS)
        self._cond = threading.Condition()
        self.users = 0

    def _borrow(self) -> Any:
        with self._cond:
            if self._closed:
                raise StorageUnavailable("the store is closed")
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            conn = self._open(str(self.folder))  # type: ignore[no-untyped-call]
        except BaseException:
            self._give(None)
            raise
        with self._cond:
            self._all.append(conn)
        return conn

    def _give(self, conn: Any) -> None:
        with self._cond:
            self._busy -= 1
            if conn is not None:
                self._idle.append(conn)
            self._cond.notify_all()

    def query(self, sql: str, fmt: str, params: dict[str, str]) -> bytes:
        with self._slots:
            conn = self._borrow()
            try:
                data: bytes = conn.query(sql, fmt, params=params).bytes()
            finally:
                self._give(conn)
        return data

    def connections(self) -> int:
        with self._cond:
            return len(self._all)

    def close(self) -> None:
        """After the statements running now (at most ``CLOSE_WAIT_S``): every connection
        closed, and with the last one the engine stops."""
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._busy == 0, timeout=self.CLOSE_WAIT_S)
            conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            conn.close()


class ChdbTransport:
    """The ClickHouse engine in this process, its data in ``folder``.

    One engine per folder per process: stores opened on the same folder share it (this is
    how two app instances share one engine in a test). Statements of different threads run
    in parallel, each on a connection of its own (``_Engine``).
    """

    _shared: ClassVar[dict[Path, _Engine]] = {}
    _shared_lock = threading.Lock()

    def __init__(self, folder: Path, timeout_ms: int) -> None:
        self.folder = folder.resolve()
        self._timeout_ms = timeout_ms
        self._timeout_s = max(0.001, timeout_ms / 1000)
        with self._shared_lock:
            engine = self._shared.get(self.folder)
            if engine is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                lock = _claim(self.folder)
                try:
                    engine = _Engine(self.folder)
                except BaseException:
                    lock.close()
                    raise
                _claims[self.folder] = lock
                self._shared[self.folder] = engine
            engine.users += 1
        self._engine = engine

    def _run(self, sql: str, params: Params | None, fmt: str) -> bytes:
        try:
            return self._engine.query(sql, fmt, _bind(params))
        except Exception as exc:  # chdb raises its own error type with the server's code
            if _TIMEOUT_CODE in str(exc):
                raise QueryTimeout(self._timeout_ms) from exc
            raise

    def query(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> list[list[Any]]:
        merged = {**_OUTPUT, "max_execution_time": self._timeout_s, **(settings or {})}
        data = self._run(sql + _settings_clause(merged), params, "JSONCompact")
        rows: list[list[Any]] = orjson.loads(data)["data"] if data else []
        return rows

    def records(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        merged = {**_OUTPUT, "max_execution_time": self._timeout_s}
        data = self._run(sql + _settings_clause(merged), params, "JSON")
        rows: list[dict[str, Any]] = orjson.loads(data)["data"] if data else []
        return rows

    def command(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> None:
        self._run(sql + _settings_clause(settings), params, "CSV")

    def insert(self, table: str, columns: Sequence[str], rows: bytes, settings: Settings) -> None:
        head = f"INSERT INTO {table} ({', '.join(columns)}){_settings_clause(settings)} "
        self._run(head + "FORMAT JSONCompactEachRow\n" + rows.decode(), None, "CSV")

    def close(self) -> None:
        with self._shared_lock:
            engine = self._shared.get(self.folder)
            if engine is None or engine is not self._engine:
                return
            engine.users -= 1
            if engine.users > 0:
                return
            del self._shared[self.folder]
            engine.close()
            claim = _claims.pop(self.folder, None)
            if claim is not None:
                claim.close()


_claims: dict[Path, IO[bytes]] = {}


class EngineInUse(RuntimeError):
    """Another process has the embedded engine's folder open."""


def _claim(folder: Path) -> IO[bytes]:
    """An exclusive lock on ``folder/backlight.lock`` for as long as the engine is open.

    The embedded engine does not notice a second process on its folder; both would write
    it, and neither would see the other's data. So a second process is refused.
    """
    handle = (folder / "backlight.lock").open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise EngineInUse(
            f"{folder} is open in another process: a chdb:// store serves one process "
            "(stop it first, or use clickhouse:// to share a store)"
        ) from exc
    return handle


class HttpTransport:
    """A ClickHouse server or cluster over HTTP(S), through clickhouse-connect."""

    def __init__(self, url: str, timeout_ms: int) -> None:
        import clickhouse_connect
        from clickhouse_connect.driver.binding import quote_identifier

        # The client and its HTTP pool log each failed attempt (with hosts, and at times
        # whole URLs); the store reports failures itself, in one line.
        for name in ("clickhouse_connect", "urllib3.connectionpool"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        parts = urlsplit(url)
        self._timeout_ms = timeout_ms
        self._timeout_s = max(0.001, timeout_ms / 1000)
        self.database = parts.path.strip("/") or "default"
        self._client = clickhouse_connect.get_client(
            host=parts.hostname or "localhost",
            port=parts.port or (8443 if parts.scheme == "clickhouses" else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            secure=parts.scheme == "clickhouses",
            autogenerate_session_id=False,
            send_receive_timeout=300,  # reads are bound by max_execution_time
        )
        # The client's first queries run in the database it is given, and a server refuses
        # one that does not exist: connect to the user's default one, make ours if it is
        # missing (so an existing one needs no CREATE grant), then use it.
        found = self._client.command(
            "SELECT count() FROM system.databases WHERE name = {db:String}",
            parameters={"db": self.database},
        )
        if not found:
            self._client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.database)}")
        self._client.database = self.database

    def query(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> list[list[Any]]:
        merged = {**_OUTPUT, "max_execution_time": self._timeout_s, **(settings or {})}
        try:
            result = self._client.raw_query(
                sql, parameters=dict(params or {}), settings=merged, fmt="JSONCompact"
            )
        except Exception as exc:
            if _TIMEOUT_CODE in str(exc):
                raise QueryTimeout(self._timeout_ms) from exc
            raise
        rows: list[list[Any]] = orjson.loads(result)["data"] if result else []
        return rows

    def records(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        merged = {**_OUTPUT, "max_execution_time": self._timeout_s}
        try:
            result = self._client.raw_query(
                sql, parameters=dict(params or {}), settings=merged, fmt="JSON"
            )
        except Exception as exc:
            if _TIMEOUT_CODE in str(exc):
                raise QueryTimeout(self._timeout_ms) from exc
            raise
        rows: list[dict[str, Any]] = orjson.loads(result)["data"] if result else []
        return rows

    def command(
        self, sql: str, params: Params | None = None, settings: Settings | None = None
    ) -> None:
        self._client.command(sql, parameters=dict(params or {}), settings=dict(settings or {}))

    def insert(self, table: str, columns: Sequence[str], rows: bytes, settings: Settings) -> None:
        self._client.raw_insert(
            table, list(columns), rows, settings=dict(settings), fmt="JSONCompactEachRow"
        )

    def close(self) -> None:
        self._client.close()


def connect(url: str, timeout_ms: int) -> Transport:
    """``chdb:///DIR`` or ``clickhouse[s]://[user:pass@]host:port/db``."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        return ChdbTransport(Path(unquote(parts.path)), timeout_ms)
    if parts.scheme in ("clickhouse", "clickhouses"):
        return HttpTransport(url, timeout_ms)
    raise ValueError(f"not a ClickHouse store URL: {url!r}")
