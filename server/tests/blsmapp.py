"""A real TypeScript app, bundled and minified by esbuild with a source map, and the stack
its nested function throws when run by Node (V8, as Chromium): the fixture of the
symbolication tests (server/tests/symbolicate/)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ESBUILD = ROOT / "server/ui/node_modules/.bin/esbuild"

FORMAT_TS = """\
// Money formatting for the cart.
export function formatPrice(cents: number): string {
  if (cents < 0) {
    throw new Error("negative price: " + cents);
  }
  return (cents / 100).toFixed(2);
}
"""
CART_TS = """\
import { formatPrice } from "./util/format";
import { callWith } from "tinylib";

export function cartTotal(items: number[]): string {
  const sum = items.reduce((a, b) => a + b, 0);
  return callWith(() => formatPrice(sum));
}
"""
MAIN_TS = """\
import { cartTotal } from "./cart";

export function checkout(): string {
  return cartTotal([100, -500]);
}
(globalThis as any).checkout = checkout;
"""
LIB_JS = """\
export function callWith(f) {
  return f();
}
"""
RUN_JS = """\
const vm = require("vm");
const fs = require("fs");
const [file, url] = process.argv.slice(2);
vm.runInThisContext(fs.readFileSync(file, "utf8"), { filename: url });
try { globalThis.checkout(); } catch (e) { process.stdout.write(e.stack); }
"""


@dataclass(frozen=True)
class App:
    dist: Path  # holds js/<name>.js and js/<name>.js.map
    script: bytes
    source_map: bytes
    name: str = "app"


def build(folder: Path, debug_id: str | None = None, name: str = "app", prelude: str = "") -> App:
    """Bundle and minify the app into ``folder/dist/js/<name>.js``; with ``debug_id``,
    write it into the script and the map as bundler plugins do. ``prelude``: TypeScript
    bundled before the app (``src/prelude.ts``), so that the same source gets other
    minified names and positions (another build)."""
    src = folder / "src"
    (src / "util").mkdir(parents=True)
    (src / "util/format.ts").write_text(FORMAT_TS)
    (src / "cart.ts").write_text(CART_TS)
    main = MAIN_TS
    if prelude:
        (src / "prelude.ts").write_text(prelude)
        main = 'import "./prelude";\n' + main
    (src / "main.ts").write_text(main)
    lib = folder / "node_modules/tinylib"
    lib.mkdir(parents=True)
    (lib / "index.js").write_text(LIB_JS)
    (lib / "package.json").write_text('{"name": "tinylib", "module": "index.js"}')
    out = folder / f"dist/js/{name}.js"
    subprocess.run(
        [
            str(ESBUILD),
            str(src / "main.ts"),
            "--bundle",
            "--minify",
            "--sourcemap",
            "--format=iife",
            f"--outfile={out}",
            "--log-level=warning",
        ],
        check=True,
        cwd=folder,
        timeout=60,
    )
    map_path = out.with_name(f"{name}.js.map")
    if debug_id:
        script = out.read_text().rstrip("\n")
        head, sep, tail = script.rpartition("\n//# sourceMappingURL=")
        out.write_text(f"{head}\n//# debugId={debug_id}{sep}{tail}\n")
        data = json.loads(map_path.read_text())
        data["debugId"] = debug_id
        map_path.write_text(json.dumps(data))
    return App(folder / "dist", out.read_bytes(), map_path.read_bytes(), name)


def throw(app: App, url: str) -> str:
    """The stack V8 prints when the app, loaded from ``url``, throws."""
    runner = app.dist.parent / "run.cjs"
    runner.write_text(RUN_JS)
    done = subprocess.run(
        ["node", str(runner), str(app.dist / f"js/{app.name}.js"), url],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "negative price" in done.stdout, done
    return done.stdout


def line_of(text: str, needle: str) -> int:
    """The 1-based line of ``needle`` in ``text``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)
