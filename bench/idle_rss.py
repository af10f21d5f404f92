"""Idle resident memory of ``backlight serve`` on a fresh data dir.

    .venv/bin/python bench/idle_rss.py [--idle 5]

Starts a real server (``BacklightProcess``: temporary data dir, loopback port), waits for
/healthz and the first API call, stays idle, then reads VmRSS (and VmHWM, the peak) from
/proc/PID/status. Target: < 150 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _server_common import rss_mb, table

from backlight_server.testing import BacklightProcess

TARGET_MB = 150.0


def status_value(pid: int, field: str) -> int:
    """A number from /proc/PID/status (memory fields are in kB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle", type=float, default=5.0, help="seconds idle before reading")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="backlight-bench-") as tmp:
        server = BacklightProcess(Path(tmp) / "data").start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            after_start = rss_mb(pid)
            time.sleep(args.idle)
            idle, peak = rss_mb(pid), status_value(pid, "VmHWM") / 1024
            threads = status_value(pid, "Threads")
        finally:
            server.stop()
    print(
        table(
            ["measure", "MB"],
            [
                ["RSS right after start-up (healthz + one API call)", f"{after_start:.1f}"],
                [f"RSS after {args.idle:g} s idle (VmRSS)", f"{idle:.1f}"],
                ["peak RSS so far (VmHWM)", f"{peak:.1f}"],
            ],
        )
    )
    print(f"\nthreads: {threads}; MB = MiB (1,048,576 bytes)")
    print(f"target idle RSS < {TARGET_MB:.0f} MB: {'met' if idle < TARGET_MB else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
