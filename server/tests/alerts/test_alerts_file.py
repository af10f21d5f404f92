"""Rules declared in a TOML file (``--alerts-file``): refusals at start, the sync into the
store across restarts, read-only through the API, and ``${ENV}`` secrets, with a real
``backlight serve``."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from blalerts import Receiver, exception_span, traces, verify

from backlight_server.alerts import file as alerts_file
from backlight_server.testing import BacklightProcess, free_port, wait_for

HOOK_SECRET = "from-the-environment-" + "x" * 12

RULES = """
[[rules]]
name = "New errors"
cooldown_seconds = 0
trigger = {{ kind = "new_group" }}

[[rules.channels]]
kind = "webhook"
url = "{url}/file"
secret = "${{HOOK_SECRET}}"

[[rules]]
name = "Spikes of api"
trigger = {{ kind = "spike", threshold = 50, window_minutes = 5 }}
filters = {{ service = "api", source = "backend" }}

[[rules.channels]]
kind = "slack"
webhook_url = "https://hooks.slack.example/services/${{SLACK_PATH}}"
"""


def _api(server: BacklightProcess, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method,
        server.url + path,
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )


def _rules(server: BacklightProcess) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in server.api("/api/v1/alert-rules")["rules"]}


ENV = {"HOOK_SECRET": HOOK_SECRET, "SLACK_PATH": "T000/B000/abcdefabcdefabcdef"}


def test_file_rules_sync_at_start_are_read_only_and_use_env_secrets(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    args = ["--alerts-file", str(path), "--alert-interval-s", "0.2"]
    with Receiver().running() as rx:
        path.write_text(RULES.format(url=rx.url))
        server = BacklightProcess(tmp_path / "data", env=ENV, args=args).start()
        try:
            made = _api(
                server,
                "POST",
                "/api/v1/alert-rules",
                {
                    "name": "from the API",
                    "trigger": {"kind": "new_group"},
                    "channels": [{"kind": "webhook", "url": rx.url + "/api", "secret": "s" * 20}],
                },
            )
            assert made.status_code == 201, made.text
            rules = _rules(server)
            assert set(rules) == {"New errors", "Spikes of api", "from the API"}
            new, spike = rules["New errors"], rules["Spikes of api"]
            assert new["id"] == alerts_file.rule_id(path, "New errors")
            assert new["id"].startswith("file-") and new["project_id"] == server.project
            assert new["channels"][0]["secret"] == "••••" + HOOK_SECRET[-4:]
            assert spike["trigger"]["threshold"] == 50 and spike["filters"]["service"] == "api"
            assert spike["channels"][0]["webhook_url"] == "••••cdef"

            # read-only through the API: 409 naming the file; the rule is unchanged
            put = _api(server, "PUT", f"/api/v1/alert-rules/{new['id']}", {**new, "name": "x"})
            assert put.status_code == 409, put.text
            assert put.json()["error"] == "read_only" and str(path) in put.json()["detail"]
            gone = _api(server, "DELETE", f"/api/v1/alert-rules/{new['id']}")
            assert gone.status_code == 409 and str(path) in gone.json()["detail"]
            assert _api(server, "DELETE", "/api/v1/alert-rules/file-0-0").status_code == 404
            assert _rules(server)["New errors"] == new
            assert _api(server, "POST", f"/api/v1/alert-rules/{new['id']}/test").status_code == 200

            # the rule fires; the body is signed with the secret from the environment
            at = time.time() * 1000
            span = exception_span(None, secrets.token_hex(16), at, "KeyError", "sku")
            r = httpx.post(
                server.url + "/v1/traces", json=traces(server.project, [span]), timeout=30
            )
            assert r.status_code == 200
            got = wait_for(
                lambda: [g for g in rx.at("/file") if g.json["events"][0]["kind"] == "new_group"],
                "the file rule's message",
            )
            assert verify(HOOK_SECRET, got[0].headers, got[0].body)
            assert got[0].json["rule"]["id"] == new["id"]
        finally:
            server.stop()

        # a restart with the same file: the same rules, nothing rewritten or duplicated
        server = BacklightProcess(tmp_path / "data", env=ENV, args=args).start()
        try:
            again = _rules(server)
            assert again["New errors"] == new and again["Spikes of api"] == spike
            assert len(server.api("/api/v1/alert-rules")["rules"]) == 3
        finally:
            server.stop()

        # a rule removed from the file and another changed: so in the store after a restart
        text = RULES.format(url=rx.url)
        path.write_text(text[: text.index('[[rules]]\nname = "Spikes')].replace("= 0", "= 60"))
        server = BacklightProcess(tmp_path / "data", env=ENV, args=args).start()
        try:
            after = _rules(server)
            assert set(after) == {"New errors", "from the API"}
            assert after["New errors"]["id"] == new["id"]
            assert after["New errors"]["cooldown_seconds"] == 60
            assert after["New errors"]["updated_ms"] > new["updated_ms"]
        finally:
            server.stop()


def _serve(tmp_path: Path, text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    cmd = [sys.executable, "-m", "backlight_server", "serve", "--port", str(free_port())]
    cmd += ["--data-dir", str(tmp_path / "data"), "--otlp-grpc-port", "0"]
    cmd += ["--alerts-file", str(path)]
    return subprocess.run(
        cmd,
        env={**os.environ, "BACKLIGHT_AUTH_TOKEN": "t", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


HOOK = '[[rules.channels]]\nkind = "webhook"\nurl = "http://127.0.0.1:9/h"\nsecret = "{secret}"\n'
GOOD = '[[rules]]\nname = "ok"\ntrigger = { kind = "new_group" }\n' + HOOK.format(secret="s")


@pytest.mark.parametrize(
    ("text", "env", "says"),
    [
        ("[[rules]\nname = 1", {}, "not valid TOML: "),
        (
            GOOD + '\n[[rules]]\nname = "late"\ncooldown_seconds = 100000\n'
            'trigger = { kind = "new_group" }\n' + HOOK.format(secret="s"),
            {},
            "rule 'late' (#2): cooldown_seconds: Input should be less than or equal to 86400",
        ),
        (
            '[[rules]]\nname = "bad kind"\ntrigger = { kind = "sometimes" }\n'
            + HOOK.format(secret="s"),
            {},
            "rule 'bad kind' (#1): trigger: Input tag 'sometimes' found using 'kind' does not",
        ),
        (
            '[[rules]]\nname = "hook"\ntrigger = { kind = "new_group" }\n'
            + HOOK.format(secret="${NOT_SET_ANYWHERE}"),
            {},
            "rule 'hook' (#1): channels.0.secret: environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            '[[rules]]\nname = "elsewhere"\nproject_id = "nope"\ntrigger = { kind = "new_group" }\n'
            + HOOK.format(secret="s"),
            {},
            "rule 'elsewhere' (#1): project_id: no project 'nope'",
        ),
        (GOOD + "\n" + GOOD, {}, "rule 'ok' (#2): name: also the name of rule 'ok' (#1)"),
        ('[[rule]]\nname = "typo"', {}, "unknown top-level key 'rule'"),
        (
            '[[rules]]\ntrigger = { kind = "new_group" }\n' + HOOK.format(secret="s"),
            {},
            "rule #1: name: Field required",
        ),
    ],
)
def test_a_bad_file_refuses_to_start_with_one_line(
    tmp_path: Path, text: str, env: dict[str, str], says: str
) -> None:
    done = _serve(tmp_path, text, env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"backlight: alerts file {tmp_path / 'rules.toml'}: "), lines[0]
    assert says in lines[0], lines[0]


def test_a_missing_file_refuses(tmp_path: Path) -> None:
    with pytest.raises(alerts_file.AlertsFileError, match="cannot read it: No such file"):
        alerts_file.load(str(tmp_path / "absent.toml"), {})


def test_env_references_only_in_secret_fields_and_not_scanned_again(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(
        '[[rules]]\nname = "n"\ntrigger = { kind = "new_group" }\n'
        '[[rules.channels]]\nkind = "email"\nhost = "${HOST}"\nsender = "a@b.c"\n'
        'to = ["d@e.f"]\nusername = "u"\npassword = "p-${PW}-${PW}"\n'
    )
    loaded = alerts_file.load(str(path), {"PW": "${HOST}", "HOST": "smtp.example"})
    channel = loaded.rules[0].rule.channels[0]
    assert channel.password == "p-${HOST}-${HOST}"  # type: ignore[union-attr]
    assert channel.host == "${HOST}"  # type: ignore[union-attr]


def test_the_id_derives_from_the_file_name_and_the_rule_name() -> None:
    a = alerts_file.rule_id("/etc/backlight/rules.toml", "New errors")
    assert a == alerts_file.rule_id("/srv/other/rules.toml", "New errors")
    assert a != alerts_file.rule_id("/etc/backlight/rules.toml", "New error")
    assert a != alerts_file.rule_id("/etc/backlight/team.toml", "New errors")
    assert a.startswith(alerts_file.file_prefix("rules.toml")) and len(a) <= 64
