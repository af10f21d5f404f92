"""Alert rules declared in a TOML file (``--alerts-file rules.toml``), so teams keep them in
git (docs/alerts.md, "Rules in a file"):

    [[rules]]
    name = "New errors in production"
    trigger = { kind = "new_group" }
    filters = { environment = "production" }

    [[rules.channels]]
    kind = "slack"
    webhook_url = "${SLACK_WEBHOOK_URL}"

Every rule is checked with ``RuleIn`` (the API's model), and a channel's secret fields may
name environment variables (``${NAME}``), so secrets need not live in git. A bad file is a
start-up refusal of one line that names the file, the rule and the field (``AlertsFileError``,
a ``ValueError``: ``backlight serve`` prints it and exits 2), and changes nothing.

At start the file's rules are synced into the store: each rule's id derives from the file's
name and the rule's name (``file-<file hash>-<rule hash>``), so a restart finds the same
rules (an unchanged rule is not written again), a changed one is replaced, and a rule gone
from the file is deleted. The API answers 409 to PUT and DELETE on them (``is_file_rule``).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from backlight_server.alerts.channels.config import SECRET_FIELDS
from backlight_server.alerts.rules import Rule, RuleIn, readable_rule
from backlight_server.store.base import Row, Store

MAX_BYTES = 1024 * 1024
MAX_RULES = 1000
PREFIX = "file-"
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}")


class AlertsFileError(ValueError):
    """The alerts file cannot be used: one line for the operator (no secret in it)."""


def _hash(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def file_prefix(path: str | Path) -> str:
    """What the ids of a file's rules start with: the file is known by its name (not its
    folder), so the same file mounted elsewhere, or given to every server sharing a
    store, names the same rules."""
    return f"{PREFIX}{_hash(Path(path).name, 8)}-"


def rule_id(path: str | Path, name: str) -> str:
    return file_prefix(path) + _hash(Path(path).name + "\n" + name, 16)


def is_file_rule(rule_id: str) -> bool:
    return rule_id.startswith(PREFIX)


@dataclass(frozen=True)
class FileRule:
    id: str
    label: str  # how refusals name it: 'name' (#n)
    rule: RuleIn


@dataclass(frozen=True)
class AlertsFile:
    path: str
    prefix: str
    rules: tuple[FileRule, ...]


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(the rule)"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:300]


def _substitute(raw: dict[str, Any], environ: Mapping[str, str]) -> str | None:
    """``${NAME}`` in each channel's secret fields → the variable's value (not scanned
    again). Returns the field and variable of the first reference that is not set."""
    channels = raw.get("channels")
    if not isinstance(channels, list):
        return None
    for i, channel in enumerate(channels):
        if not isinstance(channel, dict):
            continue
        for name in SECRET_FIELDS.get(str(channel.get("kind")), ()):
            value = channel.get(name)
            if not isinstance(value, str):
                continue
            missing = [m for m in _REF.findall(value) if m not in environ]
            if missing:
                return f"channels.{i}.{name}: environment variable {missing[0]} is not set"
            channel[name] = _REF.sub(lambda m: environ[m.group(1)], value)
    return None


def load(path: str, environ: Mapping[str, str]) -> AlertsFile:
    """Read and check the file; ``AlertsFileError`` names what is wrong."""
    head = f"alerts file {path}"
    try:
        with open(os.path.expanduser(path), "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise AlertsFileError(f"{head}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise AlertsFileError(f"{head}: larger than {MAX_BYTES} bytes")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise AlertsFileError(f"{head}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise AlertsFileError(f"{head}: not valid TOML: {_one_line(str(exc))}") from None
    unknown = sorted(set(doc) - {"rules"})
    if unknown:
        raise AlertsFileError(
            f"{head}: unknown top-level key {unknown[0]!r} (rules are [[rules]] tables)"
        )
    raw_rules = doc.get("rules", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise AlertsFileError(f"{head}: rules: must be [[rules]] tables")
    if len(raw_rules) > MAX_RULES:
        raise AlertsFileError(f"{head}: rules: more than {MAX_RULES} rules")
    out: list[FileRule] = []
    names: dict[str, str] = {}
    for n, raw in enumerate(raw_rules, start=1):
        name = raw.get("name")
        label = f"rule {name!r} (#{n})" if isinstance(name, str) and name else f"rule #{n}"
        label = _one_line(label)
        missing = _substitute(raw, environ)
        if missing:
            raise AlertsFileError(f"{head}: {label}: {missing}")
        try:
            rule = RuleIn.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise AlertsFileError(
                f"{head}: {label}: {_where(first['loc'])}: {_one_line(first['msg'])}"
            ) from None
        if rule.name in names:
            raise AlertsFileError(
                f"{head}: {label}: name: also the name of {names[rule.name]} (a file rule's "
                "id derives from its name: names must differ)"
            )
        names[rule.name] = label
        out.append(FileRule(rule_id(path, rule.name), label, rule))
    return AlertsFile(path, file_prefix(path), tuple(out))


@dataclass(frozen=True)
class Synced:
    added: int
    changed: int
    removed: int


def _same(stored: Row | None, rule: Rule) -> bool:
    if stored is None:
        return False
    old = readable_rule(stored.get("body"))
    return old is not None and old.model_dump(exclude={"updated_ms"}) == rule.model_dump(
        exclude={"updated_ms"}
    )


def sync(store: Store, loaded: AlertsFile, default_project: str) -> Synced:
    """Make the store's rules of this file what the file says. Every project is checked
    before anything is written, so a refusal changes nothing."""
    now = time.time() * 1000
    wanted: list[Rule] = []
    for item in loaded.rules:
        project = item.rule.project_id or default_project
        if not store.project_exists(project):
            raise AlertsFileError(
                f"alerts file {loaded.path}: {item.label}: project_id: no project {project!r}"
            )
        body = {**item.rule.model_dump(), "id": item.id, "project_id": project, "updated_ms": now}
        wanted.append(Rule.model_validate(body))
    held = {r["id"]: r for r in store.alert_rules() if str(r["id"]).startswith(loaded.prefix)}
    added = changed = 0
    for rule in wanted:
        before = held.pop(rule.id, None)
        if _same(before, rule):
            continue
        store.save_alert_rule(rule.id, rule.project_id, rule.model_dump_json())
        added, changed = (added + 1, changed) if before is None else (added, changed + 1)
    for gone in held:
        store.delete_alert_rule(gone)
    return Synced(added, changed, len(held))
