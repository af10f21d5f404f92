"""Backend SDK overhead: req/s of hello-world FastAPI and Flask apps, bare and instrumented.

    python bench/sdk_overhead.py                 # everything, ~10 minutes
    python bench/sdk_overhead.py --rounds 6 --frameworks fastapi --variants bare,backlight
    python bench/sdk_overhead.py --frameworks fastapi-h11   # uvicorn without uvloop/httptools

Variants: bare, Backlight, Backlight with its compiled encoder off (the Python one, as on a
platform without a compiler), Backlight added to FastAPI with ``add_middleware`` (inside
FastAPI's native telemetry), highlight-io 0.10.2, sentry-sdk (traces_sample_rate=1.0). Each
SDK exports to a sink on 127.0.0.1 (OTLP/HTTP and Sentry envelopes to an HTTP sink in this
process, highlight-io's OTLP/gRPC to a gRPC sink). FastAPI runs under uvicorn (uvloop,
httptools; or, as "fastapi-h11", asyncio and h11), Flask under gunicorn (one gthread
worker, 8 threads). Every variant's server is up at once, pinned to CPU 0; wrk (1 thread,
8 connections) runs on CPU 1 in short bursts at each server in turn, ``--rounds`` times,
so that the machine's drifting speed hits every variant alike. The peers' pins conflict
with ours, so every variant runs in its own throwaway venv under .cache/bench/, made here.
highlight-io pins OpenTelemetry 1.28, which today's FastAPI cannot use: its venv gets an
older FastAPI, and its ratio is to a bare run in that same venv. Nothing is sent beyond
127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
FRAMEWORK_PINS = [
    "uvicorn==0.54.0",
    "httptools==0.9.0",
    "uvloop==0.23.0",
    "flask==3.1.3",
    "gunicorn==27.0.1",
]
VENVS: dict[str, list[str]] = {
    "backlight": [str(ROOT / "sdk" / "python"), "fastapi==0.163.2", *FRAMEWORK_PINS],
    "sentry": ["sentry-sdk==2.75.0", "fastapi==0.163.2", *FRAMEWORK_PINS],
    "highlight": ["highlight-io==0.10.2", "fastapi<0.120", *FRAMEWORK_PINS],
    "size": [str(ROOT / "sdk" / "python")],
}
# variant -> the venv it runs in, and the bare run it is compared with
RUNS: dict[str, tuple[str, str]] = {
    "bare": ("backlight", "bare"),
    "backlight": ("backlight", "bare"),
    # the same SDK with its compiled encoder switched off: what a platform without a
    # compiler gets (BACKLIGHT_NO_EXTENSIONS=1)
    "backlight (python encoder)": ("backlight", "bare"),
    # FastAPI: Backlight added with app.add_middleware, inside FastAPI's native telemetry
    # (on by default), whose server span and operation spans it then exports
    "backlight (add_middleware)": ("backlight", "bare"),
    "sentry": ("sentry", "bare"),
    "highlight": ("highlight", "bare (highlight venv)"),
    "bare (highlight venv)": ("highlight", "bare (highlight venv)"),
}
SESSION = "Ab3dEf7hIj0lMn4pQr8tUv2xYz6a"
# Every request carries the browser SDK's headers with a fresh request (= trace) id, as a
# real session's requests do: no SDK gets to cache a repeated value.
WRK_SCRIPT = f"""
math.randomseed(os.time())
local digits = "0123456789abcdef"
local function hex(n)
  local t = {{}}
  for i = 1, n do local r = math.random(1, 16); t[i] = digits:sub(r, r) end
  return table.concat(t)
end
request = function()
  local trace = hex(32)
  return wrk.format("GET", "/", {{
    ["x-highlight-request"] = "{SESSION}/" .. trace,
    ["traceparent"] = "00-" .. trace .. "-" .. hex(16) .. "-01",
  }})
end
"""


@dataclass
class Result:
    rps: float
    cpu_us: float  # server CPU time (all its processes and threads) per request
    export_us: float | None = None  # Backlight's export thread alone, per request


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its child processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: ppid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def venv(name: str) -> Path:
    """Create (once per requirement list) the venv ``name`` and return its python."""
    path = CACHE / name
    python = path / "bin" / "python"
    stamp = path / ".requirements"
    wanted = "\n".join(VENVS[name])
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        local = [r for r in VENVS[name] if r.startswith("/")]
        if local:  # the SDK from this checkout: always the current code
            pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            subprocess.run([*pip, "--no-deps", "--force-reinstall", *local], check=True)
        return python
    log(f"creating venv {path}")
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *VENVS[name]], check=True)
    stamp.write_text(wanted)
    return python


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffered, so each response leaves in one write: unbuffered, the 2-byte body would
    # wait behind Nagle for the client's delayed ACK, stalling every export by ~40 ms.
    wbufsize = 1 << 16
    received = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received += len(body)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def http_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def process(command: list[str], env: dict[str, str] | None = None) -> Iterator[int]:
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def server_command(python: Path, framework: str, port: int) -> list[str]:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    if framework.startswith("fastapi"):
        # "fastapi": uvicorn[standard]'s stack (uvloop, httptools), what fastapi[standard]
        # installs; "fastapi-h11": plain `pip install uvicorn`'s (asyncio loop, h11)
        stack = ["asyncio", "h11"] if framework == "fastapi-h11" else ["uvloop", "httptools"]
        return [
            *pin, str(python), "-m", "uvicorn", "sdk_bench_apps:fastapi_app",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--log-level", "warning", "--loop", stack[0], "--http", stack[1],
        ]  # fmt: skip
    return [
        *pin, str(python), "-m", "gunicorn", "sdk_bench_apps:flask_app",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8",
        "--worker-class", "gthread", "--log-level", "warning",
    ]  # fmt: skip


def wrk(url: str, seconds: float, connections: int) -> tuple[float, int]:
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    script = CACHE / "headers.lua"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(WRK_SCRIPT)
    duration = f"-d{max(1, round(seconds))}s"
    command = [*pin, "wrk", "-t1", f"-c{connections}", duration, "-s", str(script), url]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if match is None or count is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(match.group(1)), int(count.group(1))


@contextmanager
def servers(
    framework: str, variants: list[str], sink: str, grpc_sink: str
) -> Iterator[dict[str, tuple[int, str]]]:
    """Every variant's server for ``framework``, up at once: variant -> (pid, url)."""
    with ExitStack() as stack:
        up: dict[str, tuple[int, str]] = {}
        for variant in variants:
            port = free_port()
            env = {
                **os.environ,
                "BENCH_VARIANT": variant.split(" ")[0],
                "BENCH_FRAMEWORK": framework,
                "BENCH_SINK": sink,
                "BENCH_GRPC_SINK": grpc_sink,
                "PYTHONPATH": str(ROOT / "bench" / "sdk_overhead"),
            }
            env.pop("BACKLIGHT_NO_EXTENSIONS", None)
            if variant.endswith("(python encoder)"):
                env["BACKLIGHT_NO_EXTENSIONS"] = "1"
            if variant.endswith("(add_middleware)"):
                env["BENCH_FORM"] = "add_middleware"
            command = server_command(venv(RUNS[variant][0]), framework, port)
            up[variant] = (stack.enter_context(process(command, env)), f"http://127.0.0.1:{port}/")
        for _, url in up.values():
            wait_ready(url)
        yield up


def measure(
    framework: str, variants: list[str], sink: str, grpc_sink: str, args: argparse.Namespace
) -> dict[str, list[Result]]:
    """Short wrk bursts at each variant in turn, ``rounds`` times over.

    The machine's speed drifts over tens of seconds; bursts of a few seconds, taken in
    turn, put every variant through the same drift. A variant's CPU for one round runs
    from the start of its burst to the start of its next one, so work its SDK does
    after a burst (a timer-driven export) is still counted.
    """
    results: dict[str, list[Result]] = {v: [] for v in variants}
    with servers(framework, variants, sink, grpc_sink) as up:
        for _, url in up.values():
            wrk(url, args.warmup, args.connections)
        # variant -> (cpu, requests, req/s, export thread cpu)
        started: dict[str, tuple[float, int, float, float | None]] = {}
        for round_ in range(args.rounds + 1):
            last = round_ == args.rounds
            if last:
                time.sleep(6.0)  # time for exports still due (highlight-io batches each 5 s)
            shift = round_ % len(variants)  # each variant takes each place in the order
            for variant in variants[shift:] + variants[:shift]:
                pid, url = up[variant]
                cpu = cpu_seconds(pid)
                export = export_stats(url) if variant.startswith("backlight") else None
                if variant in started:
                    cpu_before, count, rps, export_before = started.pop(variant)
                    result = Result(rps, (cpu - cpu_before) / count * 1e6)
                    if export is not None and export_before is not None:
                        result.export_us = (export["cpu"] - export_before) / count * 1e6
                    results[variant].append(result)
                if last and export is not None:  # what its exporter sent and dropped
                    del export["cpu"]
                    log(f"{framework} {variant} export: {export}")
                if not last:
                    rps, count = wrk(url, args.duration, args.connections)
                    started[variant] = (cpu, max(count, 1), rps, export and export["cpu"])
    return results


def export_stats(url: str) -> dict[str, Any]:
    """Backlight's export counters and its export thread's CPU seconds (``/_backlight``)."""
    with urllib.request.urlopen(url + "_backlight") as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


def import_time_and_size() -> tuple[float, float, int]:
    """(median ms to import backlight, its share of it, MB the install adds to a venv)."""
    python = venv("size")
    code = "import time; t=time.perf_counter(); import backlight; print(time.perf_counter()-t)"
    times = [
        float(subprocess.run([str(python), "-c", code], check=True, capture_output=True,
                             text=True).stdout)
        for _ in range(7)
    ]  # fmt: skip
    probe = [str(python), "-X", "importtime", "-c", "import backlight"]
    trace = subprocess.run(probe, check=True, capture_output=True, text=True).stderr
    own = sum(
        int(m.group(1))
        for m in re.finditer(r"import time:\s+(\d+) \|\s+\d+ \|\s+ *backlight", trace)
    )
    site = next((CACHE / "size" / "lib").glob("python*/site-packages"))
    base = {"pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence.pth"}
    total = sum(
        f.stat().st_size
        for entry in site.iterdir()
        if not any(entry.name.startswith(b) for b in base)
        for f in ([entry] if entry.is_file() else entry.rglob("*"))
        if f.is_file()
    )
    return statistics.median(times) * 1000, own / 1000, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per burst")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=12, help="bursts per variant")
    parser.add_argument(
        "--frameworks", default="fastapi,flask", help="fastapi, flask and/or fastapi-h11"
    )
    parser.add_argument("--variants", default=",".join(RUNS))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (scripts/setup.sh installs it)")
    frameworks = args.frameworks.split(",")
    variants = [v.strip() for v in args.variants.split(",")]
    for name in {RUNS[v][0] for v in variants}:
        venv(name)
    grpc_port = free_port()
    grpc_sink = ROOT / "bench" / "sdk_overhead" / "sdk_bench_grpc_sink.py"
    grpc_cmd = [str(venv("highlight")), str(grpc_sink)]
    results: dict[tuple[str, str], list[Result]] = {}
    with http_sink() as sink, process([*grpc_cmd, str(grpc_port)]):
        for framework in frameworks:
            log(f"{framework}: {args.rounds} rounds of {args.duration:g} s bursts")
            grpc_url = f"http://127.0.0.1:{grpc_port}"
            asgi = framework.startswith("fastapi")  # add_middleware: an ASGI form only
            ran = [v for v in variants if asgi or not v.endswith("(add_middleware)")]
            for variant, runs in measure(framework, ran, sink, grpc_url, args).items():
                results[(framework, variant)] = runs
                log(f"{framework:8} {variant:22} " + " ".join(
                    f"{r.rps:7.0f}/{r.cpu_us:.0f}"
                    + ("" if r.export_us is None else f"/{r.export_us:.1f}") for r in runs
                ))  # fmt: skip
    print(f"\nwrk -t1 -c{args.connections}; {args.rounds} rounds of {args.duration:g} s bursts, "
          f"variants in turn; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(
        "\nreq/s and CPU are medians over rounds; the ratios are medians of each round's "
        "ratio to the bare run of the same round, and the middle half of those ratios "
        "(quartiles) shows how far one run can be trusted."
    )
    print(
        "\n| framework | variant | req/s | vs bare | middle half | server CPU µs/req "
        "| CPU vs bare | export thread µs/req |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (framework, variant), runs in results.items():
        rps = statistics.median(r.rps for r in runs)
        cpu = statistics.median(r.cpu_us for r in runs)
        bare = results.get((framework, RUNS[variant][1]))
        ratio = cpu_ratio = "n/a"
        spread = ""
        if bare:
            pairs = list(zip(runs, bare, strict=True))
            ratios = [r.rps / b.rps for r, b in pairs]
            ratio = f"{statistics.median(ratios):.0%}"
            if len(ratios) > 1 and RUNS[variant][1] != variant:
                low, _, high = statistics.quantiles(ratios, n=4)
                spread = f"{low:.0%}–{high:.0%}"
            cpu_ratio = f"{statistics.median(r.cpu_us / b.cpu_us for r, b in pairs):.2f}×"
        exports = [r.export_us for r in runs if r.export_us is not None]
        export = f"{statistics.median(exports):.1f}" if exports else ""
        print(f"| {framework} | {variant} | {rps:,.0f} | {ratio} | {spread} | {cpu:.0f} "
              f"| {cpu_ratio} | {export} |")  # fmt: skip
    print(f"\nsink received {_Sink.received:,} bytes of OTLP/HTTP and Sentry envelopes")
    ms, own, size = import_time_and_size()
    print(f"import backlight: {ms:.0f} ms (median of 7 fresh processes; "
          f"backlight's own modules {own:.1f} ms)")  # fmt: skip
    print(f"pip install backlight: {size / 1e6:.1f} MB in site-packages, dependencies included")


if __name__ == "__main__":
    main()
