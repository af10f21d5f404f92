"""Web UI: server-rendered pages (Jinja2) over the store, plus small TypeScript modules
(built from ``server/ui`` into ``static/build``) for the replayer and interaction."""
