"""Error responses: JSON ``{"error", "detail"}``; OTLP protobuf requests get a google.rpc.Status."""

from __future__ import annotations

import orjson
from google.rpc import status_pb2
from starlette.responses import Response

from backlight_server.errors import ClientError

PROTOBUF = "application/x-protobuf"
_GRPC_CODES = {400: 3, 404: 5, 413: 8, 415: 3, 429: 8, 503: 14}


def json_response(
    data: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(err: ClientError, protobuf: bool = False) -> Response:
    if protobuf:
        status = status_pb2.Status(
            code=_GRPC_CODES.get(err.status, 3), message=f"{err.code}: {err.detail}"
        )
        return Response(
            status.SerializeToString(),
            status_code=err.status,
            headers=err.headers,
            media_type=PROTOBUF,
        )
    return json_response({"error": err.code, "detail": err.detail}, err.status, err.headers)
