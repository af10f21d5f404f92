"""``backlight project sourcemap-fetch show|set``: a project's source-map fetch settings,
on the data dir's store (or ``--store``/``BACKLIGHT_STORE``), as the API's
``/api/v1/projects/{id}/sourcemap-fetch``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from backlight_server.store.base import FetchConfig, Store
from backlight_server.symbolicate import netguard


def add_parser(psub: Any) -> None:
    p = psub.add_parser(
        "sourcemap-fetch",
        help="Show or set a project's source-map fetch path (off by default).",
        description="The server fetches a frame's script and its map only from allowed "
        "origins, when switched on. See docs/sourcemaps.md#fetching-maps.",
    )
    fsub = p.add_subparsers(dest="fetch_command", required=True)
    show = fsub.add_parser("show", help="Print whether fetching is on, and the origins.")
    change = fsub.add_parser("set", help="Switch fetching on or off; replace the origins.")
    onoff = change.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="enabled", action="store_true", default=None)
    onoff.add_argument("--off", dest="enabled", action="store_false")
    change.add_argument(
        "--origin",
        dest="origins",
        action="append",
        default=None,
        help="an allowed origin, http(s)://host[:port] or http(s)://*.domain[:port]; "
        "repeat it; the list replaces the stored one",
    )
    change.add_argument("--no-origins", action="store_true", help="empty the list")
    for c in (show, change):
        c.add_argument("--project", required=True)
        c.add_argument("--data-dir", dest="data_dir", type=Path, default=None)


def run(store: Store, args: argparse.Namespace) -> int:
    if not store.project_exists(args.project):
        print(f"error: no project {args.project!r}", file=sys.stderr)
        return 1
    config = store.sourcemap_fetch(args.project)
    if args.fetch_command == "set":
        origins = list(config.origins)
        if args.no_origins:
            origins = []
        if args.origins is not None:
            try:
                origins = netguard.check_origins(args.origins)
            except ValueError as exc:
                print(f"error: --origin: {exc}", file=sys.stderr)
                return 2
        enabled = config.enabled if args.enabled is None else bool(args.enabled)
        config = store.set_sourcemap_fetch(FetchConfig(args.project, enabled, tuple(origins)))
    print(f"fetch: {'on' if config.enabled else 'off'}")
    for origin in config.origins:
        print(f"origin: {origin}")
    if config.enabled and not config.origins:
        print("(no origins: nothing is fetched)")
    return 0
