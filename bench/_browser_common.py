"""Shared helpers of the browser SDK benchmarks: build the SDK, fetch npm packages into
.cache/bench/ (gitignored) with the ordinary npm client, print Markdown tables."""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

from backlight_server import testing

ROOT = Path(__file__).resolve().parents[1]
SDK = ROOT / "sdk" / "browser"
CACHE = ROOT / ".cache" / "bench"
ESBUILD = SDK / "node_modules" / ".bin" / "esbuild"
CHROMIUM_ARGS = [*testing.CHROMIUM_ARGS, "--disable-quic"]


def run(cmd: Sequence[str], cwd: Path) -> str:
    done = subprocess.run(list(cmd), cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def build_sdk() -> Path:
    """Builds the browser SDK (npm run build) and returns dist/backlight.js."""
    if not (SDK / "node_modules").is_dir():
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], SDK)
    run(["npm", "run", "--silent", "build"], SDK)
    return SDK / "dist" / "backlight.js"


def npm_file(spec: str, member: str) -> bytes:
    """One file of an npm package tarball, fetched once with `npm pack` into .cache/bench."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name, _, version = spec.rpartition("@")
    tgz = CACHE / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not tgz.exists():
        run(["npm", "pack", spec, "--pack-destination", str(CACHE), "--loglevel=error"], CACHE)
    with tarfile.open(tgz) as tar:
        f = tar.extractfile(f"package/{member}")
        assert f is not None, f"{member} not in {spec}"
        return f.read()


def npm_install(spec: str) -> Path:
    """`npm install` of ``spec`` into its own folder under .cache/bench; returns the folder."""
    folder = CACHE / ("install-" + spec.lstrip("@").replace("/", "-"))
    if not (folder / "node_modules").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text('{"private": true}\n')
        run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--save-exact", spec],
            folder,
        )
    return folder


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (also readable on a terminal)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "| " + " | ".join(f"{{:{w}}}" for w in widths) + " |"
    lines = [fmt.format(*header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)
