"""Parsed maps kept in memory, least recently used first out, bounded by the bytes they
were parsed from. Failures are kept too (as ``None``, charged a little), so a broken map
is not parsed again on every read; keys name content (hashes), so a new upload is a new
key and a stale entry is simply never asked for again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from backlight_server.symbolicate.maps import ParsedMap

__all__ = ["DEFAULT_CACHE_BYTES", "MapCache"]

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
_FAILED_COST = 1024


class MapCache:
    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[ParsedMap | None, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def peek(self, key: Hashable) -> ParsedMap | None:
        """The parsed map under ``key`` if one is kept (``None``: absent, or a failure)."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[0]

    def get(self, key: Hashable, make: Callable[[], ParsedMap | None]) -> ParsedMap | None:
        """The parsed map under ``key``; ``make`` parses it on a miss (outside the lock:
        two threads may parse the same map once each, and the second result is kept)."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found[0]
            self.misses += 1
        parsed = make()
        cost = parsed.size if parsed is not None else _FAILED_COST
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if cost <= self.max_bytes:
                self._items[key] = (parsed, cost)
                self._bytes += cost
            while self._bytes > self.max_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return parsed
