"""Decoded telemetry → linked, grouped records, independent of transport and storage."""
