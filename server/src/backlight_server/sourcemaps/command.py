"""The ``backlight sourcemaps`` and ``backlight project upload-key`` commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from backlight_server.sourcemaps import client


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sourcemaps", help="Upload source maps and scripts of a release.")
    psub = p.add_subparsers(dest="sourcemaps_command", required=True)
    up = psub.add_parser(
        "upload",
        help="Upload a built folder's .js/.mjs/.cjs/.map files (only those the server lacks).",
    )
    up.add_argument("folder", help="the build output, e.g. ./dist")
    up.add_argument("--project", required=True, help="the project id")
    up.add_argument("--version", required=True, help="the release (the app version the SDK sends)")
    up.add_argument(
        "--url-prefix",
        default="~/",
        help="where the folder is served, e.g. https://app.example.com/static "
        "(default ~/: any origin, the path from the folder)",
    )
    up.add_argument(
        "--server", default=None, help=f"env BACKLIGHT_SERVER, default {client.DEFAULT_SERVER}"
    )
    up.add_argument("--key", default=None, help="an upload key (env BACKLIGHT_UPLOAD_KEY)")


def add_key_parser(psub: Any) -> None:
    """``backlight project upload-key create|list|delete``: on the data dir's store."""
    p = psub.add_parser("upload-key", help="Manage a project's source-map upload keys.")
    ksub = p.add_subparsers(dest="key_command", required=True)
    for name, text in (
        ("create", "Make a key and print it (shown once)."),
        ("list", "List keys, masked."),
    ):
        c = ksub.add_parser(name, help=text)
        c.add_argument("--project", required=True)
        c.add_argument("--data-dir", dest="data_dir", type=Path, default=None)
    d = ksub.add_parser("delete", help="Delete a key by its id.")
    d.add_argument("key_id")
    d.add_argument("--project", required=True)
    d.add_argument("--data-dir", dest="data_dir", type=Path, default=None)


def keys_command(store: Any, args: argparse.Namespace) -> int:
    from backlight_server.sourcemaps import keys

    if not store.project_exists(args.project):
        print(f"error: no project {args.project!r}", file=sys.stderr)
        return 1
    if args.key_command == "create":
        made = keys.new_key()
        store.create_upload_key(args.project, made.id, made.key_hash, made.masked)
        print(made.key)
    elif args.key_command == "list":
        for k in store.upload_keys(args.project):
            print(f"{k['id']}\t{k['masked']}")
    elif not store.delete_upload_key(args.project, args.key_id):
        print(f"error: no upload key {args.key_id!r} in project {args.project!r}", file=sys.stderr)
        return 1
    return 0
