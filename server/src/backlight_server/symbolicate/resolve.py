"""Which uploaded map belongs to a frame's script (docs/sourcemaps.md, "Using the maps").

In order: the debug id the error carries for that script; else the release's uploaded
script at the frame's URL (exact, then ``~/path``, any origin), by its own debug id, its
``sourceMappingURL``, or ``<script>.map``; else a map of the release whose ``file`` names
that URL. Nothing here parses a map: it returns a cache key (content hashes) and a loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from backlight_server.store.base import Artifact, FetchConfig, Store
from backlight_server.symbolicate import maps
from backlight_server.symbolicate.fetch import Budget
from backlight_server.symbolicate.maps import ParsedMap

__all__ = ["Found", "Missing", "Resolver", "candidates"]

MAX_RELEASE_FILES = 10_000  # as sourcemap_max_release_files' default


class Missing(LookupError):
    """The files a ``Found`` names are not stored (any more)."""


@dataclass(frozen=True, slots=True)
class Found:
    key: tuple[str, ...]  # names the content: (project, how, hashes or debug id)
    load: Callable[[], ParsedMap | None]


def candidates(url: str) -> list[str]:
    """The names an uploaded script may have for a frame's URL: the URL without query
    and fragment, then ``~/path`` (any origin)."""
    base = url.split("#", 1)[0].split("?", 1)[0]
    names = [base] if base else []
    parts = urlsplit(base)
    if parts.scheme and parts.path.startswith("/"):
        names.append("~" + parts.path)
    return names


class Resolver:
    """Resolution for one read: the release's listing is fetched once, at first need."""

    def __init__(self, store: Store, project_id: str, release: str | None) -> None:
        self.store, self.project_id, self.release = store, project_id, release
        self._listing: dict[str, Artifact] | None = None
        self._fetch: FetchConfig | None = None
        self.budget = Budget()  # new fetches this read may start

    def fetch_config(self) -> FetchConfig:
        """The project's fetch settings (symbolicate/fetch.py), read once per read."""
        if self._fetch is None:
            self._fetch = self.store.sourcemap_fetch(self.project_id)
        return self._fetch

    def listing(self) -> dict[str, Artifact]:
        if self._listing is None:
            files = (
                self.store.list_artifacts(self.project_id, self.release, MAX_RELEASE_FILES)
                if self.release
                else []
            )
            self._listing = {a.url: a for a in files}
        return self._listing

    def find(self, url: str, debug_id: str | None = None) -> list[Found]:
        """Where this frame's map may be, best first; each ``load`` raises ``Missing``
        when its files are not (or no longer) stored."""
        found: list[Found] = []
        if debug_id:
            found.append(self._by_debug_id(debug_id.lower()))
        names = candidates(url)
        files = self.listing()
        script = next((files[n] for n in names if files.get(n, _NONE).kind == "script"), None)
        if script is not None and script.debug_id and script.debug_id != debug_id:
            found.append(self._by_debug_id(script.debug_id))
        source_map = self._map_for(script, names, files)
        if source_map is not None:
            found.append(self._by_release(script, source_map))
        return found

    def _map_for(
        self, script: Artifact | None, names: list[str], files: dict[str, Artifact]
    ) -> Artifact | None:
        refs: list[str] = []
        if script is not None and script.ref and not script.ref.startswith("data:"):
            target = urljoin(script.url, script.ref)
            refs += [target, *candidates(target)[1:]]
        refs += [n + ".map" for n in ([script.url] if script else []) + names]
        for ref in refs:
            found = files.get(ref)
            if found is not None and found.kind == "map":
                return found
        wanted = {script.url, *names} if script else set(names)
        for art in files.values():
            if art.kind == "map" and art.ref and urljoin(art.url, art.ref) in wanted:
                return art
        return None

    def by_debug_id(self, debug_id: str) -> Found:
        """The uploaded map with this debug id (its ``load`` raises ``Missing`` if none)."""
        return self._by_debug_id(debug_id.lower())

    def _by_debug_id(self, debug_id: str) -> Found:
        project, store = self.project_id, self.store

        def load() -> ParsedMap | None:
            found_map = store.find_artifact(project, debug_id, "map")
            if found_map is None:
                raise Missing(debug_id)
            found_script = store.find_artifact(project, debug_id, "script")
            return maps.parse(found_script[1] if found_script else b"", found_map[1])

        return Found((project, "debug", debug_id), load)

    def _by_release(self, script: Artifact | None, source_map: Artifact) -> Found:
        project, release, store = self.project_id, self.release or "", self.store

        def load() -> ParsedMap | None:
            found_map = store.get_artifact(project, release, source_map.url)
            if found_map is None:
                raise Missing(source_map.url)
            found_script = store.get_artifact(project, release, script.url) if script else None
            return maps.parse(found_script[1] if found_script else b"", found_map[1])

        key = (project, "sha", script.sha256 if script else "", source_map.sha256)
        return Found(key, load)


_NONE = Artifact("", "", "", "none", "", 0)
