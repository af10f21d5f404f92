"""The JSON query API under /api/v1 (token required)."""
