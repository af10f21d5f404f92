"""The export pipeline: bounded buffers, OTLP encoding, HTTP transport, one worker thread."""
