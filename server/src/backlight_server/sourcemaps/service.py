"""Storing one uploaded file: the caps, the checks and the store call, shared by the
upload API and highlight's uploader protocol. Synchronous: run on a worker thread (it
decodes, hashes and searches the whole file, and the store call blocks)."""

from __future__ import annotations

from dataclasses import dataclass

from backlight_server.errors import ClientError
from backlight_server.settings import Settings, env_name
from backlight_server.sourcemaps import keys
from backlight_server.sourcemaps.inspect import inspect
from backlight_server.store.base import Artifact, Row, Store
from backlight_server.symbolicate import regroup


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_release_files: int
    max_project_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.sourcemap_max_file_bytes,
            settings.sourcemap_max_release_files,
            settings.sourcemap_max_project_bytes,
        )

    def as_row(self) -> Row:
        return {
            "max_file_bytes": self.max_file_bytes,
            "max_release_files": self.max_release_files,
            "max_project_bytes": self.max_project_bytes,
        }


def too_large(size: int | None, limit: int) -> ClientError:
    said = f"is {size} bytes" if size is not None else "exceeds the limit"
    return ClientError(
        413,
        "file_too_large",
        f"the file {said}; the limit is {limit} bytes (sourcemap_max_file_bytes, "
        f"{env_name('sourcemap_max_file_bytes')})",
    )


def authenticate(store: Store, key: str) -> Row | None:
    """The stored key (``{id, project_id, …}``) that ``key`` is, if any."""
    if not keys.looks_like_key(key):
        return None
    return store.upload_key(keys.hash_key(key))


def store_file(
    store: Store, limits: Limits, project_id: str, release: str, url: str, data: bytes
) -> Row:
    """Check and store one file; the answer of an upload. Refusals name the limit."""
    if len(data) > limits.max_file_bytes:
        raise too_large(len(data), limits.max_file_bytes)
    seen = inspect(url, data)
    art = Artifact(
        project_id, release, url, seen.kind, seen.sha256, len(data), seen.debug_id, seen.ref
    )
    files, total = store.artifact_usage(project_id, release)
    if files >= limits.max_release_files or total + len(data) > limits.max_project_bytes:
        held = store.get_artifact(project_id, release, url)  # only at a cap: rare
        if held is None or held[0].sha256 != seen.sha256:
            _refuse_at_cap(limits, files, total, len(data), held is not None)
    status = store.put_artifact(art, data)
    if status != "unchanged":  # errors already stored may now group by original frames
        regroup.schedule(store, project_id)
    return {
        "status": status,
        "release": release,
        "url": url,
        "kind": seen.kind,
        "sha256": seen.sha256,
        "size": len(data),
        "debug_id": seen.debug_id,
        "ref": seen.ref,
    }


def _refuse_at_cap(limits: Limits, files: int, total: int, size: int, replacing: bool) -> None:
    if files >= limits.max_release_files and not replacing:
        raise ClientError(
            413,
            "release_full",
            f"the release holds {files} files; the limit is {limits.max_release_files} "
            f"(sourcemap_max_release_files, {env_name('sourcemap_max_release_files')})",
        )
    if total + size > limits.max_project_bytes:
        raise ClientError(
            413,
            "project_full",
            f"the project's files take {total} bytes and this one {size}; the limit is "
            f"{limits.max_project_bytes} (sourcemap_max_project_bytes, "
            f"{env_name('sourcemap_max_project_bytes')}): delete old releases "
            "(DELETE /api/v1/projects/{id}/artifacts?release=…) or wait for "
            "sourcemap_retention_days",
        )


def artifact_row(a: Artifact) -> Row:
    return {
        "release": a.release,
        "url": a.url,
        "kind": a.kind,
        "sha256": a.sha256,
        "size": a.size,
        "debug_id": a.debug_id,
        "ref": a.ref,
        "uploaded_ms": a.uploaded_ms,
    }
