"""``backlight doctor``: run the checks, print them in plain words, exit 1 if any failed."""

from __future__ import annotations

import argparse
import os
from typing import Any

from backlight_server.doctor.checks import (
    Finding,
    check_cors,
    check_header,
    check_server,
    check_tracing,
)
from backlight_server.doctor.origins import parse_rules


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="Check why browser requests do not link to backend data.",
        description="Sends the CORS preflight a browser would send for a request carrying "
        "x-highlight-request and traceparent, says whether tracingOrigins (true "
        "unless given) would match, and what the Backlight server has seen. "
        "Exits 1 if anything is wrong. The rules: docs/linkage.md.",
    )
    p.add_argument(
        "url", nargs="?", help="an API URL the page calls, e.g. https://api.example.com/some/path"
    )
    p.add_argument("--origin", help="the page's origin, e.g. https://app.example.com")
    p.add_argument("--method", default="GET", help="the request's method (default GET)")
    p.add_argument(
        "--tracing-origins",
        action="append",
        metavar="ENTRY",
        help="the page's tracingOrigins: true (the default), false, default (not "
        "given), or entries, repeated: a string, or /source/flags for a RegExp",
    )
    p.add_argument(
        "--header",
        metavar="VALUE",
        help="an x-highlight-request value a backend received: does it link?",
    )
    p.add_argument(
        "--server",
        default=os.environ.get("BACKLIGHT_URL", "http://127.0.0.1:8082"),
        help="the Backlight server [env BACKLIGHT_URL]",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("BACKLIGHT_AUTH_TOKEN"),
        help="access token [env BACKLIGHT_AUTH_TOKEN]",
    )
    p.add_argument("--project", default=None, help="project id (default: the server's default)")


def run(args: argparse.Namespace) -> int:
    findings: list[Finding] = []
    if args.url:
        if not args.origin:
            print("error: --origin is required with a URL")
            return 2
        try:
            rules = parse_rules(args.tracing_origins)
        except ValueError as exc:
            print(f"error: {exc}")
            return 2
        findings.append(check_cors(args.origin, args.url, args.method.upper()))
        findings.append(check_tracing(args.origin, args.url, rules))
    if args.header is not None:
        findings.append(check_header(args.header))
    findings.extend(check_server(args.server, args.token, args.project))
    for f in findings:
        print(f"[{'ok' if f.ok else 'FAIL'}] {f.title}\n       {f.detail}")
    failed = [f for f in findings if not f.ok]
    print(f"\n{len(findings) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0
