"""Web UI: server-rendered pages (login here; the session, request and error pages follow)."""
