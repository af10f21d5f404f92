"""``SqliteStore`` implements the ``Store`` protocol, and nothing outside ``store/sqlite/``
reaches into SQLite: the type checker checks the first (this file runs under
``mypy --strict``), the tests below check both at run time."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from backlight_server.state import AppState
from backlight_server.store.base import Store
from backlight_server.store.queries import ErrorGroupQuery, LogQuery, SessionQuery
from backlight_server.store.sqlite import SqliteStore
from bltest import parse_source

SRC = Path(__file__).resolve().parents[2] / "src" / "backlight_server"


def _members(cls: type) -> dict[str, object]:
    return {n: v for n, v in vars(cls).items() if not n.startswith("_") and callable(v)}


def test_sqlite_store_is_a_store(tmp_path: Path) -> None:
    store: Store = SqliteStore(tmp_path / "backlight.db")  # mypy: the protocol is satisfied
    assert isinstance(store, SqliteStore)


def test_every_protocol_method_is_implemented_with_the_same_signature() -> None:
    wanted = _members(Store)
    assert {"health", "queue_depth", "observe_writes", "default_project"} <= set(wanted)
    for name, proto in wanted.items():
        impl = getattr(SqliteStore, name, None)
        assert callable(impl), f"SqliteStore has no method {name}"
        assert inspect.iscoroutinefunction(impl) == inspect.iscoroutinefunction(proto), name
        want = list(inspect.signature(proto).parameters)  # type: ignore[arg-type]
        assert list(inspect.signature(impl).parameters) == want, name


def test_app_state_holds_a_store_not_an_engine() -> None:
    assert AppState.__annotations__["store"] == "Store"


def test_nothing_outside_the_engine_touches_sqlite_internals() -> None:
    """Only ``store/sqlite/`` (and the factory that names the engine) imports it; nobody
    reaches for ``.writer`` or ``.path`` of a store."""
    offenders: list[str] = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("store/sqlite/") or rel == "store/factory.py":
            continue
        tree = parse_source(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "backlight_server.store.sqlite":
                offenders.append(f"{rel}: imports SqliteStore")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"writer", "path", "_read", "_connection"}
                and isinstance(node.value, ast.Attribute | ast.Name)
                and (node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id)
                == "store"
            ):
                offenders.append(f"{rel}:{node.lineno}: store.{node.attr}")
    assert offenders == []


def test_list_reads_take_typed_frozen_queries() -> None:
    wanted = {
        "list_sessions": SessionQuery,
        "list_error_groups": ErrorGroupQuery,
        "search_logs": LogQuery,
    }
    for name, query in wanted.items():
        params = inspect.signature(getattr(Store, name)).parameters
        assert list(params) == ["self", "query"], name
        assert params["query"].annotation == query.__name__, name
        with pytest.raises(dataclasses.FrozenInstanceError):
            query().limit = 1
