"""A queue consumer in its own process: reads one message (JSON) from stdin."""

import json
import sys

import backlight

backlight.init("test-project", backend_url=sys.argv[1], service_name="queue-consumer")
message = json.loads(sys.stdin.read())
with backlight.consume(message["headers"]):
    try:
        raise RuntimeError(f"{message['payload']} failed")
    except RuntimeError as exc:
        backlight.consume_error(exc)
backlight.shutdown()
