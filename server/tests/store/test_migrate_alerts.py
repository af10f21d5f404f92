"""``backlight migrate`` carries alerts: rules (changed and deleted ones follow on a re-run),
the outbox with its states, the delivery log; and the ClickHouse evaluator, started on the
migrated store, sends no old alert again and misses none the SQLite server had not
evaluated yet. The evaluator is the real one (``alerts/evaluate.py``) on both stores."""

from __future__ import annotations

import io
from pathlib import Path

from blstores import error, make, now_ms

from backlight_server.alerts.evaluate import Evaluator
from backlight_server.alerts.rules import Rule
from backlight_server.ops import migrate
from backlight_server.pipeline.model import TelemetryBatch
from backlight_server.settings import Settings
from backlight_server.store.base import Store
from backlight_server.store.clickhouse import ClickhouseStore

SETTINGS = Settings(retention_days=0)
BASE = "https://backlight.example.test"


def _rule(rule_id: str, project: str, name: str, **extra: object) -> Rule:
    return Rule.model_validate(
        {
            "id": rule_id,
            "project_id": project,
            "name": name,
            "trigger": {"kind": "new_group"},
            "channels": [{"kind": "webhook", "url": "http://127.0.0.1:9/h", "secret": "s"}],
            "cooldown_seconds": 0,
            **extra,
        }
    )


def _save(store: Store, rule: Rule) -> None:
    store.save_alert_rule(rule.id, rule.project_id, rule.model_dump_json())


async def _errors(store: Store, project: str, types: list[str]) -> None:
    records = [error(project, f"{t} happened", error_type=t) for t in types]
    await store.write_telemetry(TelemetryBatch(errors=records), 1)


def _outbox(store: Store) -> dict[str, str]:
    return {str(r["key"]): str(r["state"]) for r in store.due_alerts(now_ms() + 1e9, 1000)}


async def test_alerts_are_carried_and_nothing_old_is_sent_again(tmp_path: Path) -> None:
    (tmp_path / "sqlite").mkdir(mode=0o700)
    sqlite = make("sqlite", tmp_path / "sqlite")
    sqlite.open()
    target = f"chdb://{tmp_path / 'chdb'}"
    src = f"sqlite://{tmp_path / 'sqlite'}"
    try:
        p = sqlite.default_project()
        _save(sqlite, _rule("r1", p, "new groups"))
        _save(sqlite, _rule("r2", p, "to be deleted"))
        await _errors(sqlite, p, ["KeyError", "TypeError", "OSError"])
        assert Evaluator(sqlite, BASE).run_once(now_ms()) == 6  # 3 groups x 2 rules
        due = sorted(sqlite.due_alerts(now_ms() + 1, 100), key=lambda r: str(r["key"]))
        sqlite.mark_alerts(due[:2], "delivered", 1, 0.0, "")
        sqlite.mark_alerts(due[2:3], "failed", 10, 0.0, "HTTP 404")
        sqlite.mark_alerts(due[3:4], "pending", 1, now_ms() + 60_000, "HTTP 500")
        sqlite.log_alert_delivery(
            {
                "at_ms": now_ms(),
                "rule_id": "r1",
                "channel": 0,
                "kind": "webhook",
                "key": str(due[0]["key"]),
                "events": 1,
                "ok": True,
                "status": 200,
                "error": "",
                "attempt": 1,
            }
        )
        # committed after the SQLite server's last evaluation: not evaluated there
        await _errors(sqlite, p, ["KeyError", "ZeroDivisionError"])
        states = _outbox(sqlite)

        out = io.StringIO()
        copied = migrate.run(src, target, SETTINGS, chunk_rows=2, out=out)
        assert copied["alert_rules"].written == 2 and copied["alert_outbox"].written == 6
        # the project's cursor, and "#resolved" (resolutions before the copy are not sent)
        assert copied["alert_deliveries"].written == 1 and copied["alert_cursors"].written == 2
        assert [line.split()[0] for line in out.getvalue().splitlines()] == migrate.TABLES

        chdb = ClickhouseStore(target)
        chdb.open()
        try:
            assert {r["id"]: r["body"] for r in chdb.alert_rules()} == {
                r["id"]: r["body"] for r in sqlite.alert_rules()
            }
            assert _outbox(chdb) == states  # pending rows are still to be sent, only those
            assert chdb.alert_deliveries(None, 10, 0)["deliveries"][0]["key"] == due[0]["key"]
            # the evaluator on the migrated store: only the group the SQLite server had not
            # seen yet, for both rules; the three old groups are not sent again
            assert Evaluator(chdb, BASE).run_once(now_ms()) == 2
            fresh = set(_outbox(chdb)) - set(states)
            assert len(fresh) == 2 and all("new_group/" in k for k in fresh)
            assert Evaluator(chdb, BASE).run_once(now_ms()) == 0
        finally:
            chdb.close()

        # SQLite keeps serving: a rule changed, another deleted, a message delivered
        _save(sqlite, _rule("r1", p, "new groups, renamed"))
        assert sqlite.delete_alert_rule("r2")
        sqlite.mark_alerts(due[3:4], "delivered", 2, 0.0, "")
        again = migrate.run(src, target, SETTINGS, out=io.StringIO())
        assert again["alert_rules"].written == 2  # one replaced, one deleted
        assert again["alert_outbox"].written == 1
        assert again["alert_deliveries"].written == 0
        chdb = ClickhouseStore(target)
        chdb.open()
        try:
            rules = chdb.alert_rules()
            assert [(r["id"], Rule.model_validate_json(r["body"]).name) for r in rules] == [
                ("r1", "new groups, renamed")
            ]
            assert str(due[3]["key"]) not in _outbox(chdb)  # delivered: no longer due
            assert Evaluator(chdb, BASE).run_once(now_ms()) == 0
        finally:
            chdb.close()
    finally:
        sqlite.close()
