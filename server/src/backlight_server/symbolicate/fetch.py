"""The fetch path (docs/sourcemaps.md, "Fetching maps"): a frame whose script has no
uploaded map, in a project that switched fetching on, is symbolicated with the map its
script names, fetched from the project's allowlisted origins.

The script is fetched (``httpget``: allowlist, public addresses, size and time caps), and
its map found by, in order: the ``SourceMap`` (or ``X-SourceMap``) response header, the
script's last ``//# sourceMappingURL=`` comment (relative URLs resolved against the
script's final URL; a ``data:`` URL of base64 JSON is decoded within the size cap); a
``//# debugId=`` whose map was uploaded wins over both. The map is fetched under the same
rules, parsed like an uploaded one and kept in the same parsed-map cache (``MapCache``,
keyed by both files' hashes).

Outcomes are remembered per project and script URL (``Outcomes``): a success for
``sourcemap_fetch_ttl_s``, a failure or refusal for ``sourcemap_fetch_failure_ttl_s``, so
a page of fifty errors from one script fetches once; concurrent readers of one script wait
for one fetch. At most ``sourcemap_fetch_concurrency`` fetches run at once on a server.
Everything runs on the caller's thread: API and UI reads run on worker threads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urljoin

from backlight_server.settings import Settings
from backlight_server.symbolicate import maps
from backlight_server.symbolicate.cache import MapCache
from backlight_server.symbolicate.httpget import Fetched, FetchFailed, Limits, get
from backlight_server.symbolicate.maps import ParsedMap

__all__ = ["Budget", "Fetcher", "Outcome", "fetcher_for", "install", "map_ref"]

log = logging.getLogger(__name__)

MAX_OUTCOMES = 4096  # script URLs remembered per server (least recently used out)
MAX_RECENT = 20  # outcomes listed per project by the API
_TAIL = 64 * 1024
_DEBUG_ID = re.compile(rb"//# debugId=([0-9a-fA-F-]{32,36})")
_MARK = b"sourceMappingURL="
_URL_END = re.compile(rb"[\s'\"]")
_DATA_JSON = re.compile(r"data:application/json(?:;[a-z0-9=._-]{1,64}){0,4}?;base64,", re.I)

Clock = Callable[[], float]
# a debug id -> its uploaded map (and its key in the ``MapCache``), if any
Uploaded = Callable[[str], tuple[Hashable, ParsedMap] | None]


class Budget:
    """How many new fetches one read may still start (the rest of its frames stay raw)."""

    def __init__(self, left: int = 8) -> None:
        self.left = left


@dataclass(frozen=True, slots=True)
class Outcome:
    url: str
    ok: bool
    detail: str  # the map's URL when ok, else why not
    at_ms: float  # wall clock, for display
    expires: float  # on the fetcher's clock
    key: Hashable | None = None  # the parsed map's key in the ``MapCache`` when ok


def map_ref(fetched: Fetched) -> str | None:
    """Where the script's map is: the ``SourceMap``/``X-SourceMap`` header, else the last
    ``//# sourceMappingURL=`` (or ``//@``) comment; ``None`` when neither."""
    for name in ("sourcemap", "x-sourcemap"):
        value = fetched.headers.get(name, "").strip()
        if value:
            return value
    body = fetched.body
    at = body.rfind(_MARK)
    while at >= 4 and body[at - 4 : at] not in (b"//# ", b"//@ "):
        at = body.rfind(_MARK, 0, at)
    if at < 4:
        return None
    start = at + len(_MARK)
    end = _URL_END.search(body, start)
    ref = body[start : end.start() if end else len(body)]
    return ref.decode("utf-8", "replace") or None


def _debug_id(body: bytes) -> str | None:
    found = _DEBUG_ID.findall(body[-_TAIL:])
    return found[-1].decode("ascii").lower() if found else None


def data_url(ref: str, max_bytes: int) -> bytes:
    """The bytes of a ``data:application/json[;…];base64,`` URL, within ``max_bytes``."""
    head = _DATA_JSON.match(ref)
    if head is None:
        raise FetchFailed("a data: sourceMappingURL must be data:application/json;base64,…")
    payload = ref[head.end() :]
    if len(payload) // 4 * 3 > max_bytes:
        raise FetchFailed(f"an inline map over sourcemap_fetch_max_bytes ({max_bytes})")
    try:
        return base64.b64decode(unquote_to_bytes(payload), validate=True)
    except (binascii.Error, ValueError):
        raise FetchFailed("an inline map whose base64 does not decode") from None


class Outcomes:
    """Fetch outcomes by (project, script URL), least recently used out past ``MAX_OUTCOMES``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._items: OrderedDict[tuple[str, str], Outcome] = OrderedDict()
        self._lock = threading.Lock()

    def fresh(self, key: tuple[str, str]) -> Outcome | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found.expires <= self.clock():
                return None
            self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], outcome: Outcome) -> None:
        with self._lock:
            self._items[key] = outcome
            self._items.move_to_end(key)
            while len(self._items) > MAX_OUTCOMES:
                self._items.popitem(last=False)

    def recent(self, project_id: str) -> list[Outcome]:
        with self._lock:
            found = [o for (p, _), o in self._items.items() if p == project_id]
        return sorted(found, key=lambda o: -o.at_ms)[:MAX_RECENT]


class Fetcher:
    """The fetch path of one server (one per app, ``install``)."""

    def __init__(
        self,
        limits: Limits,
        ttl_s: float,
        failure_ttl_s: float,
        concurrency: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self.limits, self.ttl_s, self.failure_ttl_s = limits, ttl_s, failure_ttl_s
        self.clock = clock
        self.outcomes = Outcomes(clock)
        self.in_flight = threading.BoundedSemaphore(concurrency)
        self.requests = 0  # GETs started (each redirect hop counts), for tests and metrics
        self._locks: weakref.WeakValueDictionary[tuple[str, str], threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings, clock: Clock = time.monotonic) -> Fetcher:
        limits = Limits(
            settings.sourcemap_fetch_max_bytes,
            settings.sourcemap_fetch_timeout_s,
            settings.sourcemap_fetch_connect_timeout_s,
            settings.sourcemap_fetch_allow_private,
        )
        return cls(
            limits,
            settings.sourcemap_fetch_ttl_s,
            settings.sourcemap_fetch_failure_ttl_s,
            settings.sourcemap_fetch_concurrency,
            clock,
        )

    def map_for(
        self,
        project_id: str,
        allowlist: Sequence[str],
        url: str,
        cache: MapCache,
        uploaded: Uploaded,
        budget: Budget,
    ) -> ParsedMap | None:
        """The map of the script at ``url`` (without its fragment) for this project, from
        the remembered outcome or a fetch now; ``None`` leaves the frame raw."""
        url = url.split("#", 1)[0]
        key = (project_id, url)
        lock = self._lock_for(key)
        with lock:  # one fetch per script at a time; the others then read its outcome
            outcome = self.outcomes.fresh(key)
            if outcome is not None and not outcome.ok:
                return None
            if outcome is not None and outcome.key is not None:
                parsed = cache.peek(outcome.key)
                if parsed is not None:
                    return parsed  # else the parsed map was evicted: fetched again
            if budget.left <= 0:
                return None  # not remembered: a later read fetches it
            budget.left -= 1
            return self._fetch(key, allowlist, cache, uploaded)

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._locks_lock:
            lock = self._locks.get(key)
            if lock is None:
                lock = threading.Lock()
                self._locks[key] = lock
            return lock

    def _fetch(
        self,
        key: tuple[str, str],
        allowlist: Sequence[str],
        cache: MapCache,
        uploaded: Uploaded,
    ) -> ParsedMap | None:
        url = key[1]
        if not self.in_flight.acquire(timeout=self.limits.timeout_s):
            log.info("source map fetch for %s skipped: %s", url[:200], "too many in flight")
            return None  # not remembered: the next read tries again
        try:
            parsed, map_key, detail = self._script_and_map(url, allowlist, cache, uploaded)
        except FetchFailed as exc:
            parsed, map_key, detail = None, None, str(exc)
        finally:
            self.in_flight.release()
        ok = parsed is not None
        ttl = self.ttl_s if ok else self.failure_ttl_s
        outcome = Outcome(url, ok, detail, time.time() * 1000, self.clock() + ttl, map_key)
        self.outcomes.put(key, outcome)
        if not ok:
            log.info("source map fetch for %s (project %s): %s", url[:200], key[0], detail)
        return parsed

    def _get(self, url: str, allowlist: Sequence[str]) -> Fetched:
        self.requests += 1
        return get(url, allowlist, self.limits)  # the deadline is on the real clock

    def _script_and_map(
        self, url: str, allowlist: Sequence[str], cache: MapCache, uploaded: Uploaded
    ) -> tuple[ParsedMap | None, Hashable | None, str]:
        script = self._get(url, allowlist)
        debug_id = _debug_id(script.body)
        if debug_id is not None:
            found = uploaded(debug_id)
            if found is not None:
                return found[1], found[0], f"the uploaded map of debug id {debug_id}"
        ref = map_ref(script)
        if ref is None:
            raise FetchFailed(f"{script.url[:200]}: no SourceMap header, no sourceMappingURL")
        if ref[:5].lower() == "data:":
            map_url, body = "inline data: URL", data_url(ref, self.limits.max_bytes)
        else:
            map_url = urljoin(script.url, ref)
            body = self._get(map_url, allowlist).body
        parsed = maps.parse(script.body, body)
        if parsed is None:
            raise FetchFailed(f"{map_url[:200]}: not a source map that parses")
        map_key = (
            "fetched",
            hashlib.sha256(script.body).hexdigest(),
            hashlib.sha256(body).hexdigest(),
        )
        return cache.get(map_key, lambda: parsed), map_key, map_url


_FETCHERS: weakref.WeakKeyDictionary[object, Fetcher] = weakref.WeakKeyDictionary()


def install(store: object, fetcher: Fetcher) -> None:
    """Switch the fetch path on for reads of ``store`` (``create_app`` does, for its store)."""
    _FETCHERS[store] = fetcher


def fetcher_for(store: object) -> Fetcher | None:
    return _FETCHERS.get(store)
