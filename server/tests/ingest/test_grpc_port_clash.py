"""Two servers given the same ``--otlp-grpc-port``: the second refuses to start, in one line.

grpcio binds with SO_REUSEPORT by default, so before this both servers bound the port and
the kernel split the exports between them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from backlight_server import testing
from backlight_server.testing import BacklightProcess, free_port
from bltest import request_id, wait_for


def _serve(data_dir: Path, grpc_port: int) -> subprocess.Popen[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BACKLIGHT_AUTH_TOKEN": "test-token"}
    if testing.test_store_url(data_dir):
        env["BACKLIGHT_STORE"] = testing.test_store_url(data_dir)
    cmd = [sys.executable, "-m", "backlight_server", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(free_port()), "--data-dir", str(data_dir)]
    cmd += ["--otlp-grpc-port", str(grpc_port)]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _export_one(port: int, project: str) -> str:
    rid = request_id()
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "highlight.project_id", project
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes.fromhex(rid), b"\x02" * 8, "clash"
    span.start_time_unix_nano = time.time_ns()
    span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        trace_service_pb2_grpc.TraceServiceStub(channel).Export(req, timeout=10)
    return rid


def test_second_server_on_a_taken_grpc_port_refuses_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    with BacklightProcess(tmp_path / "first", args=["--otlp-grpc-port", str(port)]) as first:
        second = _serve(tmp_path / "second", port)
        try:
            out, _ = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            second.kill()
            second.communicate()
            pytest.fail(f"a second server started on the taken gRPC port {port}")
        assert second.returncode == 1
        lines = out.strip().splitlines()
        assert len(lines) == 1, out
        assert lines[0] == (
            f"backlight: cannot listen for OTLP/gRPC on 127.0.0.1:{port} (address in use: "
            "is another backlight serve running?); choose another --otlp-grpc-port, "
            "or 0 to turn gRPC off"
        )
        # the refusal touched nothing: no store in the second data dir
        assert not any((tmp_path / "second").iterdir())
        # and the first still takes every export
        rids = [_export_one(port, first.project) for _ in range(6)]
        wait_for(lambda: all(first.api(f"/api/v1/requests/{r}")["span_count"] for r in rids))
    # once the first stopped (its connections left in TIME_WAIT), the port is free again
    with BacklightProcess(tmp_path / "third", args=["--otlp-grpc-port", str(port)]) as third:
        rid = _export_one(port, third.project)
        wait_for(lambda: third.api(f"/api/v1/requests/{rid}")["span_count"])


def test_a_listener_with_so_reuseport_still_clashes() -> None:
    """The check binds without SO_REUSEPORT, so even a listener that set it (grpcio's
    default, as an older Backlight or a collector binds) holds the port against us."""
    from backlight_server.ingest.otlp_grpc import check_grpc_port

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(SystemExit, match=f"127.0.0.1:{port} \\(address in use"):
            check_grpc_port("127.0.0.1", port)
    check_grpc_port("127.0.0.1", port)  # released: free again
