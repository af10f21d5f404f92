"""The ``backlight`` command: ``serve``, ``project create|list|upload-key|sourcemap-fetch``,
``doctor``, ``migrate``, ``sourcemaps upload``."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from backlight_server import __version__
from backlight_server.doctor import command as doctor
from backlight_server.errors import StorageUnavailable
from backlight_server.ops import migrate
from backlight_server.settings import Settings, env_name, settings_from_env
from backlight_server.sourcemaps import command as sourcemaps
from backlight_server.store.base import Store
from backlight_server.symbolicate import command as fetch_command


def _serve_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="Run the server (ingest, API, UI, SDK file) on one port.",
        description="Run Backlight. Every flag also reads BACKLIGHT_<NAME>.",
    )
    for f in fields(Settings):
        if not f.metadata.get("flag"):
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata['help']} [env {env_name(f.name)}]"
        if f.type in (bool, "bool"):
            p.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
            continue
        types = {"int": int, "float": float, "Path": Path}
        kind = types.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
        p.add_argument(flag, dest=f.name, type=kind, default=None, help=help_text)


def _project_parser(sub: Any) -> None:
    p = sub.add_parser("project", help="Manage projects.")
    psub = p.add_subparsers(dest="project_command", required=True)
    create = psub.add_parser("create", help="Create a project and print its id.")
    create.add_argument("name")
    create.add_argument(
        "--id",
        dest="project_id",
        default=None,
        help="Use this id (e.g. the project id an app already sends).",
    )
    create.add_argument("--data-dir", dest="data_dir", type=Path, default=None)
    listing = psub.add_parser("list", help="List projects.")
    listing.add_argument("--data-dir", dest="data_dir", type=Path, default=None)
    sourcemaps.add_key_parser(psub)
    fetch_command.add_parser(psub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backlight", description=__doc__)
    parser.add_argument("--version", action="version", version=f"backlight {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _project_parser(sub)
    doctor.add_parser(sub)
    migrate.add_parser(sub)
    sourcemaps.add_parser(sub)
    return parser


def _store(settings: Settings) -> Store:
    from backlight_server.store.factory import make_store

    store = make_store(settings)
    store.open()
    return store


def redact_url(url: str) -> str:
    """A store URL as it may be printed: without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def refusal(settings: Settings, exc: Exception) -> str:
    """The one line printed when the data dir cannot be used."""
    if isinstance(exc, StorageUnavailable) and settings.store:
        return f"backlight: cannot use the store {redact_url(settings.store)}: {exc.reason}"
    if isinstance(exc, StorageUnavailable):
        return (
            f"backlight: cannot write to {exc.where or settings.data_dir}: {exc.reason}. "
            "The data dir (--data-dir) must be on a writable file system with free space."
        )
    name = getattr(exc, "sqlite_errorname", None)
    return f"backlight: cannot open the database {settings.db_path}: {exc}" + (
        f" ({name})" if name else ""
    )


def project_command(args: argparse.Namespace) -> int:
    import sqlite3

    settings = settings_from_env({"data_dir": args.data_dir})
    try:
        store = _store(settings)
    except (StorageUnavailable, sqlite3.DatabaseError) as exc:
        print(refusal(settings, exc), file=sys.stderr)
        return 1
    try:
        if args.project_command == "upload-key":
            return sourcemaps.keys_command(store, args)
        if args.project_command == "sourcemap-fetch":
            return fetch_command.run(store, args)
        if args.project_command == "create":
            pid = args.project_id
            if pid is not None and (not pid or len(pid) > 64 or not pid.isprintable()):
                print("error: --id must be 1-64 printable characters", file=sys.stderr)
                return 2
            if pid is not None and store.project_exists(pid):
                print(f"error: project {pid!r} already exists", file=sys.stderr)
                return 1
            try:
                print(store.create_project(args.name, pid))
            except StorageUnavailable as exc:
                print(refusal(settings, exc), file=sys.stderr)
                return 1
        else:
            for p in store.list_projects():
                print(f"{p['id']}\t{p['name']}")
    finally:
        store.close()
    return 0


def serve(args: argparse.Namespace) -> int:
    import sqlite3

    import uvicorn

    from backlight_server.app import create_app

    overrides = {f.name: getattr(args, f.name, None) for f in fields(Settings)}
    settings = settings_from_env(overrides)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        app = create_app(settings)
    except (StorageUnavailable, sqlite3.DatabaseError) as exc:
        print(refusal(settings, exc), file=sys.stderr)
        return 1
    except ValueError as exc:  # a store URL we cannot use
        print(f"backlight: {exc}", file=sys.stderr)
        return 2
    state = app.state.backlight
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    print(
        f"Backlight {__version__}\n"
        f"  UI:              {base}/login?token={state.auth_token}\n"
        f"  access token:    {state.auth_token}\n"
        f"  default project: {state.default_project}\n"
        f"  OTLP/HTTP:       {base}/v1/traces, {base}/v1/logs\n"
        f"  OTLP/gRPC:       "
        f"{f'{settings.host}:{settings.otlp_grpc_port}' if settings.otlp_grpc_port else 'off'}\n"
        f"  data dir:        {settings.data_dir}"
        + (f"\n  store:           {redact_url(settings.store)}" if settings.store else ""),
        flush=True,
    )
    # What exists now (modules, routes, the store's objects: ~100k) lives as long as the
    # process: out of the cyclic collector's view, a full collection takes under a
    # millisecond instead of ~90 ms, which landed on whichever page request triggered it
    # (docs/benchmarks.md, issue 22).
    gc.collect()
    gc.freeze()
    # proxy_headers=False: X-Forwarded-Proto is honoured by our own middleware, and only
    # when trust_proxy_headers is set (uvicorn would trust it from any loopback client)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
        lifespan="on",
        proxy_headers=False,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "doctor":
        return doctor.run(args)
    if args.command == "migrate":
        return migrate.command(args)
    if args.command == "sourcemaps":
        from backlight_server.sourcemaps import client

        return client.run(args)
    return project_command(args)


if __name__ == "__main__":
    sys.exit(main())
