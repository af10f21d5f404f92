"""Gzip size of the browser SDK bundle beside highlight.run and Sentry, same run.

    .venv/bin/python bench/browser_size.py

Builds sdk/browser (``npm run build``) and measures dist/backlight.js (IIFE, rrweb record
included). Beside it, fetched with npm into .cache/bench/:

- highlight.run's UMD bundle, ``dist/index.umd.js`` of ``highlight.run@10.7.5``;
- Sentry's browser SDK with tracing and replay. The npm package no longer ships the CDN
  bundle files (``build/bundles/`` is absent from ``@sentry/browser`` 7.x to 11.x), so the
  same bundle is built here with esbuild from the npm package: ``init`` plus
  ``browserTracingIntegration`` and ``replayIntegration`` (and the capture API), minified,
  as an IIFE. This is what a page gets from the CDN's ``bundle.tracing.replay.min.js``,
  tree-shaken, so it is if anything smaller than the CDN file;
- rrweb's record alone (``@rrweb/record``, as bundled by us), the floor of any replay SDK.

Target: 40 KB gzip (40,000 bytes) for the whole Backlight bundle.
"""

from __future__ import annotations

import argparse
import gzip
import json

from _browser_common import ESBUILD, SDK, build_sdk, npm_file, npm_install, run, table

HIGHLIGHT = "highlight.run@10.7.5"
SENTRY = "@sentry/browser@11.12.0"
TARGET = 40_000

SENTRY_ENTRY = """
import { init, browserTracingIntegration, replayIntegration, captureException,
  captureMessage, setUser, setTag, addBreadcrumb, withScope, startSpan } from '@sentry/browser';
window.Sentry = { init, browserTracingIntegration, replayIntegration, captureException,
  captureMessage, setUser, setTag, addBreadcrumb, withScope, startSpan };
"""


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9))


def esbuild_iife(folder_entry: str, cwd_name: str, source: str) -> bytes:
    folder = npm_install(cwd_name) if cwd_name else SDK
    entry = folder / folder_entry
    entry.write_text(source)
    out = folder / (folder_entry + ".out.js")
    run(
        [
            str(ESBUILD),
            str(entry),
            "--bundle",
            "--minify",
            "--format=iife",
            "--target=es2020",
            "--legal-comments=none",
            f"--outfile={out}",
        ],
        folder,
    )
    data = out.read_bytes()
    entry.unlink()
    out.unlink()
    return data


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    ours = build_sdk().read_bytes()
    version = json.loads((SDK / "package.json").read_text())["version"]
    rrweb = esbuild_iife(
        ".bench-record.js", "", "import {record} from '@rrweb/record'; window.R = record;"
    )
    highlight = npm_file(HIGHLIGHT, "dist/index.umd.js")
    sentry = esbuild_iife("entry.js", SENTRY, SENTRY_ENTRY)
    sizes = [
        (f"Backlight {version} dist/backlight.js (incl. rrweb record)", ours),
        ("  of which rrweb record (@rrweb/record)", rrweb),
        (f"{HIGHLIGHT} dist/index.umd.js", highlight),
        (f"{SENTRY} + tracing + replay (esbuild IIFE)", sentry),
    ]
    base = gz(ours)
    rows = [
        [name, f"{len(b):,}", f"{gz(b):,}", f"{gz(b) / 1000:.1f} KB", f"{gz(b) / base:.2f}x"]
        for name, b in sizes
    ]
    print(table(["bundle", "minified bytes", "gzip bytes", "gzip", "vs Backlight"], rows))
    verdict = "meets" if base <= TARGET else "MISSES"
    print(
        f"\nBacklight bundle: {base / 1000:.1f} KB gzip, {verdict} the 40 KB target; "
        f"Backlight's own code ~{(base - gz(rrweb)) / 1000:.1f} KB gzip."
    )


if __name__ == "__main__":
    main()
