"""The JSON answer of every API route: the store's data serialised by ``jsontext.dumps``
(any stored value, valid JSON), which tests check against the routes' response models."""

from __future__ import annotations

from starlette.responses import Response

from backlight_server.pipeline import jsontext


def json_reply(data: object, status: int = 200) -> Response:
    return Response(jsontext.dumps(data), status_code=status, media_type="application/json")
