"""An OTLP/gRPC sink for highlight-io (it exports over gRPC): accepts and drops.

Run with the highlight venv's Python: ``python grpc_sink.py PORT``.
"""

from __future__ import annotations

import sys
from concurrent import futures
from typing import Any

import grpc  # type: ignore[import-not-found, unused-ignore]
from opentelemetry.proto.collector.logs.v1 import (  # type: ignore[attr-defined, unused-ignore]
    logs_service_pb2,
    logs_service_pb2_grpc,
)
from opentelemetry.proto.collector.metrics.v1 import (  # type: ignore[attr-defined, unused-ignore]
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import (  # type: ignore[attr-defined, unused-ignore]
    trace_service_pb2,
    trace_service_pb2_grpc,
)


class Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc, unused-ignore]
    def Export(self, request: Any, context: Any) -> Any:
        return trace_service_pb2.ExportTraceServiceResponse()


class Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc, unused-ignore]
    def Export(self, request: Any, context: Any) -> Any:
        return logs_service_pb2.ExportLogsServiceResponse()


class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc, unused-ignore]
    def Export(self, request: Any, context: Any) -> Any:
        return metrics_service_pb2.ExportMetricsServiceResponse()


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)  # type: ignore[no-untyped-call, unused-ignore]
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)  # type: ignore[no-untyped-call, unused-ignore]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)  # type: ignore[no-untyped-call, unused-ignore]
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
