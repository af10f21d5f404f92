"""Ingest: decode and validate HTTP bodies, hand records to the store. Never blocks on disk."""
