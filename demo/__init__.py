"""The Backlight demo: a store page, an API, an inventory service, a queue worker, a
cross-origin partner API and a third-party origin, all linked by Backlight.

Run it with ``bash scripts/demo.sh`` (or ``.venv/bin/python -m demo``).
"""
