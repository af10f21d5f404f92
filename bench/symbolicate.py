"""Symbolication of a 30-frame frontend stack against a 5 MB source map: cold (first use:
the map read from the store and parsed) and warm (parsed map cached), and the memory the
map cache holds.

    .venv/bin/python bench/symbolicate.py [--modules 300] [--rounds 200] [--cold-rounds 5]

A synthetic TypeScript app (``--modules`` modules of 40 exported functions each, about a
5.4 MB map with ``sourcesContent`` at 300) is bundled and minified by esbuild
(server/ui/node_modules) into a temporary folder, and its script and map are stored in a
real SQLite store (temporary, through the upload path's ``store_file``) under a release.
The stack: 30 frames at the ``throw`` sites of 30 functions spread over the bundle, by the
script's URL. Each measured call is what the error group page does per error:
``symbolicate_errors`` (the session's app version read from the store, the release's file
listing, the map found by release + URL, 30 lookups with 5 source lines around each).

Cold: a new, empty cache each round (``--cold-rounds``), median. Warm: one cache, after
one stack, ``--rounds`` stacks, median and p95 per stack (target < 2 ms). Memory: the
process's resident set before and after the map is parsed and cached (symbolic's cache
lives in Rust, outside Python's allocator): its growth with the first parse, which
includes the parse's transient peak, and per further map held (four more copies under
other keys); and the bytes the cache charges a map.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from backlight_server.pipeline.model import SessionInfo
from backlight_server.settings import Settings
from backlight_server.sourcemaps.service import Limits, store_file
from backlight_server.store.sqlite.store import SqliteStore
from backlight_server.symbolicate import maps
from backlight_server.symbolicate.apply import symbolicate_errors
from backlight_server.symbolicate.cache import MapCache

ROOT = Path(__file__).resolve().parents[1]
ESBUILD = ROOT / "server/ui/node_modules/.bin/esbuild"
URL = "https://shop.example.com/static/js/app.js"
RELEASE = "bench-1"
FRAMES = 30


def write_app(src: Path, modules: int) -> None:
    src.mkdir(parents=True)
    for i in range(modules):
        nxt = (i + 1) % modules
        parts = [f"import {{ helper{nxt} }} from './m{nxt}';" if i < modules - 1 else ""]
        for j in range(40):
            parts.append(
                f"export function fn{i}_{j}(input: number, label: string): string {{\n"
                f"  const total = input * {j} + label.length; // module {i} function {j}\n"
                f"  if (total > {1000 + j}) {{\n"
                f"    throw new Error('too big in fn{i}_{j}: ' + label);\n  }}\n"
                f"  return label.repeat(2) + String(total) + '{i}-{j}';\n}}"
            )
        tail = f"helper{nxt}(x - 1)" if i < modules - 1 else "''"
        parts.append(
            f"export function helper{i}(x: number): string {{ return fn{i}_0(x, 'h') + {tail}; }}"
        )
        (src / f"m{i}.ts").write_text("\n".join(parts))
    (src / "main.ts").write_text("".join(f"export * from './m{i}';\n" for i in range(modules)))


def build(folder: Path, modules: int) -> tuple[bytes, bytes]:
    write_app(folder / "src", modules)
    out = folder / "dist/app.js"
    subprocess.run(
        [
            str(ESBUILD),
            str(folder / "src/main.ts"),
            "--bundle",
            "--minify",
            "--format=esm",
            "--sourcemap",
            f"--outfile={out}",
            "--log-level=warning",
        ],
        check=True,
        timeout=120,
    )
    return out.read_bytes(), out.with_name("app.js.map").read_bytes()


def stack_of(script: bytes) -> list[dict[str, object]]:
    """30 frames at throw sites spread over the bundle, innermost first (1-based)."""
    sites: list[tuple[int, int]] = []
    for n, line in enumerate(script.decode().splitlines(), 1):
        sites += [(n, m.start() + 1) for m in re.finditer(r"throw new Error", line)]
    step = max(1, len(sites) // FRAMES)
    picked = sites[::step][:FRAMES]
    return [
        {"file": URL, "function": "t", "line": ln, "column": col, "code": None, "in_app": True}
        for ln, col in picked
    ]


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--cold-rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-symbolicate-") as tmp:
        folder = Path(tmp)
        script, source_map = build(folder, args.modules)
        store = SqliteStore(folder / "backlight.db")
        store.open()
        try:
            project = store.default_project()
            limits = Limits.of(Settings())
            store_file(store, limits, project, RELEASE, URL, script)
            store_file(store, limits, project, RELEASE, URL + ".map", source_map)
            info = SessionInfo(project, "bench-session", 1.0, app_version=RELEASE)
            asyncio.run(store.start_session(info))
            frames = stack_of(script)

            def one(cache: MapCache) -> float:
                row = {"source": "frontend", "stack": list(frames), "session_id": "bench-session"}
                t = time.perf_counter()
                symbolicate_errors(store, project, [row], cache)
                took = time.perf_counter() - t
                mapped = row["stack"]
                assert isinstance(mapped, list) and all("raw" in f for f in mapped), mapped[:2]
                return took * 1000

            gc.collect()
            before = rss()
            cache = MapCache()
            first = one(cache)
            gc.collect()
            held = rss() - before
            colds = [first] + [one(MapCache()) for _ in range(args.cold_rounds - 1)]
            one(cache)
            warms = sorted(one(cache) for _ in range(args.rounds))
            # the steady cost of a held map: four more copies under other keys
            gc.collect()
            start = rss()
            for n in range(4):
                cache.get(("copy", n), lambda: maps.parse(script, source_map))
            gc.collect()
            per_map = (rss() - start) / 4
        finally:
            store.close()
    print(
        f"map {len(source_map) / 1e6:.1f} MB (mappings + sourcesContent), "
        f"script {len(script) / 1e6:.1f} MB, stack of {len(frames)} frames"
    )
    print(
        f"cold (first use: read + parse + 30 lookups): median {statistics.median(colds):.0f} ms "
        f"over {len(colds)}"
    )
    p95 = warms[int(len(warms) * 0.95) - 1]
    print(
        f"warm (cached): median {statistics.median(warms):.2f} ms per stack, p95 {p95:.2f} ms "
        f"over {len(warms)} (target < 2 ms)"
    )
    print(
        f"cache: charged {cache.bytes / len(cache) / 1e6:.1f} MB a map; the resident set "
        f"grew {held / 1e6:.1f} MB with the first parse (the parse's peak included) and "
        f"{per_map / 1e6:.1f} MB per further map held"
    )


if __name__ == "__main__":
    main()
