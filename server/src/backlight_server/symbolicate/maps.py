"""One parsed source map and its lookups, on Sentry's ``symbolic`` (Rust): the map is
turned into a compact cache once, then each lookup is a binary search that also finds
the original name of the enclosing function (by scope) and the source lines around it.

Maps are hostile input: a map (or script) over ``MAX_MAP_BYTES`` is not parsed, and a
map that fails to parse yields ``None``, so its frames stay as they were sent. Parsing is
linear (serde_json, then one pass over the mappings) and runs on the caller's thread: API
and UI reads run on worker threads, never on the event loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from symbolic.exceptions import SymbolicError
from symbolic.sourcemapcache import SourceMapCache

__all__ = ["CONTEXT_LINES", "MAX_LINE_CHARS", "MAX_MAP_BYTES", "Original", "ParsedMap", "parse"]

MAX_MAP_BYTES = 64 * 1024 * 1024  # as sourcemap_max_file_bytes' default
CONTEXT_LINES = 5  # source lines shown before and after the frame's line
MAX_LINE_CHARS = 400  # a longer source line is clipped (a minified original, say)
MAX_NAME_CHARS = 512
MAX_FILE_CHARS = 2048
# Parsing peaks at about ten times the map's size (a 5.5 MB map: ~80 MB, then ~2 MB held):
# at most two parses at once, so a page of errors over many cold maps cannot stack peaks.
PARSES_AT_ONCE = threading.BoundedSemaphore(2)


@dataclass(frozen=True, slots=True)
class Original:
    """Where a minified position came from; ``line`` and ``column`` count from 1."""

    file: str
    line: int
    column: int
    function: str | None
    context_start: int  # the line number of context[0]
    context: tuple[str, ...]  # the source lines around ``line`` (from sourcesContent)


class ParsedMap:
    """A map ready for lookups; thread-safe (lookups only read)."""

    __slots__ = ("_cache", "size")

    def __init__(self, cache: SourceMapCache, size: int) -> None:
        self._cache = cache
        self.size = size  # what it is charged in the cache: the bytes it was made from

    def lookup(self, line: int, column: int) -> Original | None:
        """A minified position (line and column from 1, as browsers report them)."""
        if not (0 < line < 2**31 and 0 < column < 2**31):
            return None
        try:
            token = self._cache.lookup(line, column, CONTEXT_LINES)
        except SymbolicError:
            return None
        if token is None or not token.src:
            return None
        before = [_clip(s) for s in token.pre_context]
        lines = (*before, _clip(token.context_line or ""), *(_clip(s) for s in token.post_context))
        name = token.function_name if token.function_name not in (None, "", "<unknown>") else None
        return Original(
            file=token.src[:MAX_FILE_CHARS],
            line=int(token.line),
            column=int(token.col),
            function=name[:MAX_NAME_CHARS] if name else None,
            context_start=max(1, int(token.line) - len(before)),
            context=lines if token.context_line is not None else (),
        )


def _clip(text: str) -> str:
    return text.rstrip("\r\n")[:MAX_LINE_CHARS]


def parse(script: bytes, source_map: bytes) -> ParsedMap | None:
    """``script`` may be empty (no uploaded script: function names are then missing)."""
    if len(source_map) > MAX_MAP_BYTES or len(script) > MAX_MAP_BYTES or not source_map:
        return None
    try:
        with PARSES_AT_ONCE:
            cache = SourceMapCache.from_bytes(script, source_map)
    except (SymbolicError, ValueError, UnicodeError):
        return None
    return ParsedMap(cache, len(script) + len(source_map))
