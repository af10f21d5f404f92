"""Storage-neutral parts of the log search and the log page's counts: the words of a
search, the histogram's buckets, and the shape every store answers ``log_stats`` with."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]
MAX_WORDS = 32
LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
# Bucket widths a histogram picks from (ms): the smallest that gives at most the buckets asked.
STEPS_MS = (
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
)
MAX_SERVICES = 20


def search_words(text: str) -> list[str]:
    """The words of a search: split at white space, non-printable characters are spaces, a
    trailing ``*`` is dropped (a prefix is a substring too), at most 32 words, folded to
    lower case. Every word must occur in a body, anywhere, in any case."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    words = []
    for word in text.split()[:MAX_WORDS]:
        word = word.rstrip("*").lower()
        if word and word not in words:
            words.append(word)
    return words


def bucket_ms(start_ms: float, end_ms: float, buckets: int) -> float:
    """The width of a histogram's buckets: a round step giving at most ``buckets``."""
    span = max(end_ms - start_ms, 1.0)
    for step in STEPS_MS:
        if span / step <= buckets:
            return float(step)
    days = -(-span // (buckets * 86_400_000))
    return float(days * 86_400_000)


def window(start_ms: float, end_ms: float, buckets: int) -> tuple[float, float, float]:
    """``(first bucket's start, end, width)``: buckets aligned on multiples of the width."""
    width = bucket_ms(start_ms, end_ms, buckets)
    first = (start_ms // width) * width
    return first, max(end_ms, first + width), width


def stats(
    first_ms: float,
    end_ms: float,
    width: float,
    cells: list[tuple[int, str, int]],
    levels: list[tuple[str, int]],
    services: list[tuple[str, int]],
    capped: bool = False,
) -> Row:
    """The answer of ``Store.log_stats``: ``cells`` are (bucket index, level, count);
    ``capped``: more logs matched than a store counts for a search (the counts are of the
    newest it counted)."""
    n = max(1, int(-(-(end_ms - first_ms) // width)))
    histogram: list[Row] = [
        {"start_ms": first_ms + i * width, "counts": {}, "total": 0} for i in range(n)
    ]
    for index, level, count in cells:
        if 0 <= index < n and count > 0:
            bucket = histogram[index]
            key = level if level in LEVELS else "info"
            bucket["counts"][key] = bucket["counts"].get(key, 0) + int(count)
            bucket["total"] += int(count)
    by_level: dict[str, int] = {}
    for level, count in levels:
        key = level if level in LEVELS else "info"
        by_level[key] = by_level.get(key, 0) + int(count)
    return {
        "start_ms": first_ms,
        "end_ms": end_ms,
        "bucket_ms": width,
        "histogram": histogram,
        "total": sum(b["total"] for b in histogram),
        "capped": capped,
        "levels": [{"level": lv, "count": by_level[lv]} for lv in LEVELS if by_level.get(lv)],
        "services": [
            {"service": s, "count": int(c)}
            for s, c in sorted(services, key=lambda sc: (-sc[1], sc[0]))[:MAX_SERVICES]
        ],
    }


def fold(
    rows: list[tuple[int, str, str, int]], level: str | None, service: str | None
) -> tuple[list[tuple[int, str, int]], list[tuple[str, int]], list[tuple[str, int]]]:
    """One scan's counts per (bucket, level, service), made without the level and service
    filters, → the histogram's cells (both filters), the level facet (the service filter
    only) and the service facet (the level filter only)."""
    cells: dict[tuple[int, str], int] = {}
    levels: dict[str, int] = {}
    services: dict[str, int] = {}
    for bucket, lv, svc, n in rows:
        level_ok = level is None or lv == level
        service_ok = service is None or svc == service
        if level_ok and service_ok:
            cells[(bucket, lv)] = cells.get((bucket, lv), 0) + n
        if service_ok:
            levels[lv] = levels.get(lv, 0) + n
        if level_ok:
            services[svc] = services.get(svc, 0) + n
    return (
        [(b, lv, n) for (b, lv), n in cells.items()],
        list(levels.items()),
        list(services.items()),
    )


def empty(start_ms: float | None, end_ms: float | None, buckets: int) -> Row:
    """No matching log: an empty histogram over the range asked (or the last hour)."""
    import time

    end = end_ms if end_ms is not None else time.time() * 1000
    start = start_ms if start_ms is not None else end - 3_600_000
    first, last, width = window(start, end, buckets)
    return stats(first, last, width, [], [], [])
