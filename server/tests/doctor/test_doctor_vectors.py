"""``backlight doctor`` against docs/linkage-vectors.json: its reading of ``tracingOrigins``
(the cases the browser SDK's tests run, sdk/browser/test/linkage.test.ts) and of an
``x-highlight-request`` value a backend received (the server's and the SDKs' cases)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backlight_server.doctor.checks import check_header
from backlight_server.doctor.origins import (
    PUBLIC_SUFFIXES,
    Rule,
    Rules,
    matches,
    parse_rules,
    regexp,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "linkage-vectors.json").read_text("utf-8")
)
CASES = VECTORS["origins"]["cases"]


def rules_of(given: Any) -> Rules:
    if given is None or isinstance(given, bool):
        return given
    out: list[Rule] = []
    for rule in given:
        out.append(rule if isinstance(rule, str) else regexp(rule["regexp"], rule["flags"]))
    return out


def test_the_doctor_knows_every_public_suffix_of_the_vectors() -> None:
    assert set(VECTORS["origins"]["public_suffixes"]) <= PUBLIC_SUFFIXES


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{i}-{c['why'][:40]}") for i, c in enumerate(CASES)]
)
def test_origin_vectors(case: dict[str, Any]) -> None:
    traced, reason = matches(rules_of(case["tracingOrigins"]), case["page"], case["url"])
    assert traced == case["traced"], reason
    assert reason


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{i}-{c['why'][:40]}") for i, c in enumerate(VECTORS["headers"])]
)
def test_header_vectors(case: dict[str, Any]) -> None:
    finding = check_header(case["value"])
    assert finding.ok == (case["link"] is not None), finding.detail
    if case["link"] is not None:
        session, request = case["link"]
        assert finding.detail == f"links session {session}, request {request}"
    else:
        assert finding.detail.startswith("does not link: ")


def test_parse_rules_reads_the_command_line_forms() -> None:
    assert parse_rules(None) is True
    assert parse_rules(["false"]) is False
    assert parse_rules(["default"]) is None
    rules = parse_rules(["api.partner.net", r"/^https://[a-z]+\.backend\.org\//i"])
    assert isinstance(rules, list) and rules[0] == "api.partner.net"
    assert matches(rules, "https://app.example.com", "https://X.backend.org/a")[0]
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_rules(["true", "x"])
    with pytest.raises(ValueError, match="not a valid RegExp"):
        parse_rules(["/(/"])
    with pytest.raises(ValueError, match="flag 'y'"):
        parse_rules(["/a/y"])


def test_doctor_with_tracing_origins_given() -> None:
    def doctor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "backlight_server",
                "doctor",
                "--server",
                "http://127.0.0.1:9",
                *args,
            ],
            text=True,
            capture_output=True,
            timeout=60,
            check=False,
        )

    page, api = "https://app.example.com", "http://127.0.0.1:9/api"
    out = doctor("--origin", page, "--tracing-origins", "/127\\.0\\.0\\.1:9\\//", api)
    assert (
        r"[ok] tracingOrigins: [/127\.0\.0\.1:9\//] on https://app.example.com would be "
        "traced" in out.stdout
    ), out.stdout
    out = doctor("--origin", page, "--tracing-origins", "default", api)
    assert (
        "[FAIL] tracingOrigins not given on https://app.example.com would NOT be traced"
        in out.stdout
    ), out.stdout
    out = doctor("--origin", page, "--tracing-origins", "false", "--tracing-origins", "x", api)
    assert out.returncode == 2
    assert "error: false cannot be combined" in out.stdout


def test_doctor_reads_a_header_value() -> None:
    def doctor(value: str) -> str:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "backlight_server",
                "doctor",
                "--header",
                value,
                "--server",
                "http://127.0.0.1:9",
            ],
            text=True,
            capture_output=True,
            timeout=60,
            check=False,
        ).stdout

    assert (
        "[ok] x-highlight-request 'sess-1/req-1'\n       links session sess-1, request "
        "req-1" in doctor("sess-1/req-1")
    )
    assert "does not link: the session id 'sess 1' is not 1-128 characters" in doctor(
        "sess 1/req-1"
    )
    assert (
        "does not link: the value must be <session id>/<request id>, with exactly one "
        "slash" in doctor("a/b/c")
    )
    assert "does not link: 300 characters, more than 261" in doctor("a" * 300)
