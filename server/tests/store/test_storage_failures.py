"""The writer over real storage failures: a read-only database and a full file system.

A storage failure refuses the whole group with ``StorageUnavailable`` (503, Retry-After,
the reason), rolls all of it back and turns health not ok; a failing job of any other
kind fails alone, as before, and says nothing about health.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from bl_mount import fill, tmpfs

from backlight_server.errors import StorageUnavailable
from backlight_server.store.sqlite.connection import open_writer
from backlight_server.store.sqlite.migrations import migrate
from backlight_server.store.sqlite.writer import Writer
from bltest import wait_for


def _schema(db: Path) -> None:
    with closing(open_writer(db, "normal")) as conn:
        migrate(conn)


def _insert(name: str, blob_bytes: int = 0) -> Any:
    def apply(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO projects (id, name, created_ms) VALUES (?, ?, 0)",
            (name, name + "x" * blob_bytes),
        )

    return apply


def _fail(conn: sqlite3.Connection) -> None:
    raise ValueError("a bad job")


def _group(writer: Writer, *jobs: Any) -> list[Future[Any]]:
    """Queue ``jobs`` before the thread starts, so they are committed as one group."""
    futures = [writer.submit(job) for job in jobs]
    writer.start()
    for future in futures:
        future.exception(timeout=30)
    return futures


def _names(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM projects")}


@pytest.fixture
def writer_on() -> Iterator[Any]:
    made: list[tuple[Writer, sqlite3.Connection]] = []

    def make(conn: sqlite3.Connection, folder: Path) -> Writer:
        writer = Writer(conn, 100, 64 << 20, folder=folder)
        made.append((writer, conn))
        return writer

    yield make
    for writer, conn in made:
        writer.stop()
        conn.close()


def test_read_only_database_refuses_the_group(tmp_path: Path, writer_on: Any) -> None:
    db = tmp_path / "backlight.db"
    _schema(db)
    read_only = sqlite3.connect(
        f"file:{db}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    writer = writer_on(read_only, tmp_path)
    futures = _group(writer, _insert("a"), _insert("b"))
    for future in futures:
        err = future.exception()
        assert isinstance(err, StorageUnavailable), repr(err)
        assert (err.status, err.code) == (503, "storage_unavailable")
        assert err.headers["Retry-After"].isdigit()
        assert err.reason.startswith("read-only (SQLITE_READONLY")
        assert "read-only" in err.detail
    assert not writer.health.ok
    assert writer.health.reason.startswith("read-only")
    assert _names(db) == set()


def test_a_bad_job_still_fails_alone(tmp_path: Path, writer_on: Any) -> None:
    db = tmp_path / "backlight.db"
    _schema(db)
    writer = writer_on(open_writer(db, "normal"), tmp_path)
    good, bad, also_good = _group(writer, _insert("a"), _fail, _insert("c"))
    assert good.exception() is None and also_good.exception() is None
    assert isinstance(bad.exception(), ValueError)
    assert writer.health.ok
    assert _names(db) == {"a", "c"}


@pytest.mark.slow
def test_full_disk_rolls_back_the_group_and_recovers(tmp_path: Path, writer_on: Any) -> None:
    with tmpfs(tmp_path / "mnt", size="4m") as mnt:
        db = mnt / "backlight.db"
        _schema(db)
        conn = open_writer(db, "normal")
        writer = writer_on(conn, mnt)
        filler = fill(mnt)
        small, large = _group(writer, _insert("small"), _insert("large", 512 * 1024))
        for future in (small, large):
            err = future.exception()
            assert isinstance(err, StorageUnavailable), repr(err)
            assert err.reason.startswith("disk full")
        assert not writer.health.ok
        # a commit that wrote nothing (a read) proves nothing about the disk
        read = writer.submit(lambda c: c.execute("SELECT count(*) FROM projects").fetchone())
        assert read.result(timeout=30) == (0,)
        assert not writer.health.ok
        filler.unlink()
        wait_for(lambda: writer.health.ok, timeout=20)  # the probe, without any job
        assert _names(db) == set()  # nothing of the refused group was written
        after = writer.submit(_insert("after"))
        assert after.exception(timeout=30) is None
        assert _names(db) == {"after"}
        writer.stop()
        conn.close()
