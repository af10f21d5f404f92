"""A progress line per table on a terminal: rows done / total, a bar, the rate.

On a terminal the line is redrawn in place (at most five times a second); elsewhere (a log
file, a pipe) only the final line of each table is written.
"""

from __future__ import annotations

import time
from typing import TextIO

_WIDTH = 24


class Progress:
    def __init__(self, name: str, total: int, out: TextIO) -> None:
        self.name, self.total, self._out = name, total, out
        self.done = self.written = 0
        self._started = self._drawn = time.monotonic()
        self._tty = out.isatty()

    def advance(self, scanned: int, written: int) -> None:
        self.done += scanned
        self.written += written
        now = time.monotonic()
        if self._tty and now - self._drawn >= 0.2:
            self._drawn = now
            self._out.write("\r" + self.line(now))
            self._out.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self._started, 1e-6)
        total = max(self.total, self.done)
        share = self.done / total if total else 1.0
        bar = "#" * int(share * _WIDTH)
        return (
            f"{self.name:<13} [{bar:<{_WIDTH}}] {self.done:>11,}/{total:,} rows "
            f"{share:4.0%}  {self.done / elapsed:,.0f} rows/s  ({self.written:,} written)"
        )

    def finish(self) -> None:
        self._out.write(("\r" if self._tty else "") + self.line() + "\n")
        self._out.flush()
