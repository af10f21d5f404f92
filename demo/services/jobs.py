"""The job queue between api and worker: Redis streams, or an in-process fallback.

``DEMO_QUEUE=redis://127.0.0.1:6379/0`` uses a Redis stream (the worker is its own
process); ``DEMO_QUEUE=local`` uses a ``queue.Queue`` and the worker runs as a thread of
the api process. Either way the job carries ``backlight.message_headers()`` and the
worker restores the link from them.
"""

from __future__ import annotations

import contextlib
import json
import queue
from collections.abc import Iterator
from typing import Any

STREAM = "demo:jobs"
GROUP = "workers"
_local: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1000)


class Jobs:
    def __init__(self, url: str) -> None:
        self.url = url
        self.redis: Any = None
        if url.startswith("redis://"):
            import redis

            self.redis = redis.Redis.from_url(url, decode_responses=True)

    @property
    def local(self) -> bool:
        return self.redis is None

    def put(self, payload: dict[str, Any], headers: dict[str, str]) -> None:
        if self.redis is not None:
            self.redis.xadd(
                STREAM,
                {"payload": json.dumps(payload), "headers": json.dumps(headers)},
                maxlen=10_000,
            )
        else:
            _local.put({"payload": payload, "headers": headers}, timeout=1)

    def take(self, consumer: str) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
        if self.redis is None:
            while True:
                item = _local.get()
                yield item["payload"], item["headers"]
        import redis

        with contextlib.suppress(redis.ResponseError):  # the group may exist already
            self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        while True:
            for _stream, messages in (
                self.redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=10, block=1000) or []
            ):
                for message_id, fields in messages:
                    yield json.loads(fields["payload"]), json.loads(fields["headers"])
                    self.redis.xack(STREAM, GROUP, message_id)
