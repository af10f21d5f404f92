"""A stand-in for a ClickHouse server process, for tests: ClickHouse's HTTP interface on a
loopback port, in front of the real ClickHouse engine (chdb) with its own data folder.

No ClickHouse server newer than 2018 can be installed on these machines, so this is how
the ``clickhouse://`` store is tested: its statements go through the real client
(clickhouse-connect) over real HTTP, and run on the real engine. Only the server process
is stood in for; this module does what ClickHouse's HTTP handler does with a request and
nothing more:

- the SQL is the ``query`` URL parameter, then a newline, then the body (so an INSERT's
  data can follow its ``FORMAT`` clause in the body, or the whole statement can be the
  body); or it comes as a ``multipart/form-data`` field, as the client sends long
  parameters;
- ``database`` picks the current database; ``param_<name>`` values bind ``{name:Type}``
  placeholders, in the escaped text form ClickHouse reads them in; ``default_format`` is
  the output format unless the statement names one; every other parameter is a setting
  for this one request (``SET`` before, back to the engine's value after);
- a request body in ``Content-Encoding`` gzip, deflate, lz4 or zstd is decompressed; the
  answer is compressed when the client asks for it (``Accept-Encoding``, and the setting
  ``enable_http_compression`` on in the request or in the engine), with the first method
  of its list this module can make (ClickHouse has an order of its own);
- answers carry ``X-ClickHouse-Query-Id``, ``-Timezone``, ``-Summary`` (rows and bytes
  read and written) and, for a statement that produces a result, ``-Format``; an error is
  status 500 with ``X-ClickHouse-Exception-Code`` and the engine's ``Code: N.
  DB::Exception: ...`` text, so the client raises what it raises on a server.

What it refuses, loudly rather than wrongly: HTTP sessions (``session_id``) and
ClickHouse's own block compression (``compress``/``decompress``). What it ignores:
credentials, ``client_protocol_version`` (the client then reads Native output at protocol
0, as it does behind a proxy that drops the parameter), ``readonly`` for GET requests.
Statements run one at a time (the embedded engine is not safe for concurrent use).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame  # type: ignore[import-untyped]
from backports import zstd

# URL parameters of the HTTP interface that are not settings.
_NOT_SETTINGS = {
    "query",
    "database",
    "default_format",
    "query_id",
    "user",
    "password",
    "quota_key",
    "role",
    "wait_end_of_query",
    "buffer_size",
    "client_protocol_version",
    "stacktrace",
}
_REFUSED = {"session_id", "session_check", "session_timeout", "compress", "decompress"}
_CODE = re.compile(r"Code: (\d+)\.")
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_RESULT = re.compile(r"^(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN|CHECK)\b", re.IGNORECASE)
_LEADING = re.compile(r"^(\s+|--[^\n]*\n?|/\*.*?\*/|\()+", re.DOTALL)
_UNKNOWN_FORMAT = 73
_BAD_ARGUMENTS = 36
_STD_EXCEPTION = 1001

_COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "lz4": lambda data: bytes(lz4.frame.compress(data)),
    "zstd": zstd.compress,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "lz4": lambda data: bytes(lz4.frame.decompress(data)),
    "zstd": zstd.decompress,
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}


class ServerError(Exception):
    """An error the way ClickHouse reports it: a code and a ``DB::Exception`` text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _result_format(sql: str, default: str) -> str | None:
    """The output format of a statement that produces a result; None for one that does not
    (DDL, INSERT, SET ...)."""
    head = _LEADING.sub("", sql, count=1)
    if not _RESULT.match(head):
        return None
    named = _FORMAT.search(sql)
    return named.group(1) if named else default


class ClickhouseStandIn:
    """ClickHouse's HTTP interface on ``127.0.0.1:<port>`` over a chdb engine in ``folder``.

    ``start`` opens the engine and serves; ``stop`` closes connections, then the engine.
    The engine is the only chdb engine this process may have open while it runs.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._engine: Any = None
        self._lock = threading.Lock()
        self._baseline: dict[str, str] = {}
        self.version = ""
        self.timezone = ""
        self.http_compression = False
        # What the wire carried, for tests to check: "form", "body:<encoding>",
        # "answer:<encoding>", "error:<code>".
        self.seen: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._http.standin = self
        self.port: int = self._http.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from chdb import session

        self.folder.mkdir(parents=True, exist_ok=True)
        self._engine = session.Session(str(self.folder))  # type: ignore[no-untyped-call]
        head = self._engine.query("SELECT version(), timezone()", "TabSeparated").bytes()
        self.version, self.timezone = head.decode().strip().split("\t")
        # Settings the engine itself runs with; a request's settings go back to these.
        changed = self._engine.query(
            "SELECT name, value FROM system.settings WHERE changed", "JSONCompact"
        ).bytes()
        self._baseline = {name: value for name, value in json.loads(changed)["data"]}
        on = self._engine.query("SELECT getSetting('enable_http_compression')", "CSV").bytes()
        self.http_compression = on.strip() in (b"1", b"true")
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()
        with self._http.sockets_lock:
            for sock in list(self._http.sockets):
                with contextlib.suppress(OSError):  # already closed by the client
                    sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    # --- one request ---
    def execute(
        self,
        sql: str,
        params: dict[str, str],
        settings: dict[str, str],
        database: str,
        default_format: str,
    ) -> tuple[bytes, str | None, dict[str, int]]:
        """Run ``sql`` as ClickHouse's HTTP handler would: in ``database``, with
        ``settings`` for this statement only. Returns the body, its format (None for a
        statement without a result) and the figures for ``X-ClickHouse-Summary``."""
        fmt = _result_format(sql, default_format)
        with self._lock:
            if self._engine is None:
                raise ServerError(_STD_EXCEPTION, "the stand-in is stopped")
            self._run(f"USE {_quote_identifier(database)}")
            if settings:
                self._run("SET " + ", ".join(f"{k} = {_literal(v)}" for k, v in settings.items()))
            started = time.perf_counter_ns()
            try:
                result = self._run(sql, params, fmt or "TabSeparated")
            finally:
                if settings:
                    self._run("SET " + ", ".join(self._restore(k) for k in settings))
        body: bytes = result.bytes() if fmt else b""
        figures = {
            "read_rows": int(result.rows_read()),
            "read_bytes": int(result.bytes_read()),
            "written_rows": int(result.rows_written()),
            "written_bytes": int(result.bytes_written()),
            "elapsed_ns": time.perf_counter_ns() - started,
        }
        return body, fmt, figures

    def _restore(self, name: str) -> str:
        value = self._baseline.get(name)
        return f"{name} = DEFAULT" if value is None else f"{name} = {_literal(value)}"

    def _run(self, sql: str, params: dict[str, str] | None = None, fmt: str = "CSV") -> Any:
        try:
            return self._engine.query(sql, fmt, params=params or {})
        except Exception as exc:  # the engine's error carries ClickHouse's code and text
            text = str(exc).strip()
            found = _CODE.search(text)
            raise ServerError(int(found.group(1)) if found else _STD_EXCEPTION, text) from exc


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: ClickhouseStandIn

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.sockets.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.sockets_lock:
                self.sockets.discard(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/ping":
            self._reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        self._query(b"")

    def do_POST(self) -> None:
        self._query(self._body())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _query(self, body: bytes) -> None:
        standin = self.server.standin
        query_id = str(uuid.uuid4())
        try:
            url = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            query_id = url.get("query_id") or query_id
            refused = sorted(_REFUSED & url.keys())
            if refused:
                raise ServerError(
                    _BAD_ARGUMENTS, f"the test stand-in does not support {', '.join(refused)}"
                )
            encoding = self.headers.get("Content-Encoding")
            if encoding:
                if encoding not in _DECOMPRESS:
                    raise ServerError(_UNKNOWN_FORMAT, f"unknown Content-Encoding {encoding}")
                body = _DECOMPRESS[encoding](body)
                standin.seen[f"body:{encoding}"] += 1
            fields = url
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("multipart/form-data"):
                fields = {**url, **_form(ctype, body)}
                standin.seen["form"] += 1
                body = b""
            text = fields.get("query", "")
            sql = text + "\n" + body.decode() if text and body else text or body.decode()
            params = {k[6:]: v for k, v in fields.items() if k.startswith("param_")}
            settings = {
                k: v
                for k, v in url.items()
                if k not in _NOT_SETTINGS and not k.startswith("param_")
            }
            result, fmt, figures = standin.execute(
                sql,
                params,
                settings,
                url.get("database") or "default",
                url.get("default_format") or "TabSeparated",
            )
        except ServerError as exc:
            standin.seen[f"error:{exc.code}"] += 1
            text = f"{exc} (version {standin.version})\n"
            self._reply(
                500,
                text.encode(),
                {
                    "Content-Type": "text/plain; charset=UTF-8",
                    "X-ClickHouse-Exception-Code": str(exc.code),
                    "X-ClickHouse-Query-Id": query_id,
                },
            )
            return
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": standin.timezone,
            "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in figures.items()}),
        }
        if fmt is not None:
            headers["X-ClickHouse-Format"] = fmt
        compress = url.get("enable_http_compression")
        if (standin.http_compression if compress is None else compress in ("1", "true")) and result:
            offered = [e.strip() for e in self.headers.get("Accept-Encoding", "").split(",")]
            method = next((e for e in offered if e in _COMPRESS), None)
            if method is not None:
                result = _COMPRESS[method](result)
                headers["Content-Encoding"] = method
                standin.seen[f"answer:{method}"] += 1
        self._reply(200, result, headers)

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _form(ctype: str, body: bytes) -> dict[str, str]:
    """The text fields of a ``multipart/form-data`` body."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode()
    return fields
