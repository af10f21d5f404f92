"""Redaction by substring in a real page: what the SDK uploads for a password change, a
response carrying tokens and a form post holds no secret (issue 16)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import BrowserContext

from backlight_server.testing import BacklightProcess

from .conftest import Sites, sdk_page, session_data, wait_for

pytestmark = pytest.mark.browser
R = "[REDACTED]"

SCRIPT = """
window.done = (async () => {
  await fetch(API + '/echo?case=password-change', {
    method: 'POST',
    headers: {'content-type': 'application/json', 'x-client-secret': 'hdr-s3cret', 'x-app': 'kept'},
    body: JSON.stringify({new_password: 'n3w-pass', password_confirmation: 'n3w-pass',
                          id_token: 'eyJ-id', query: 'shoes'}),
  });
  await (await fetch(API + '/json?case=tokens')).json();
  await new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open('POST', API + '/echo?case=form');
    x.setRequestHeader('content-type', 'application/x-www-form-urlencoded');
    x.onloadend = resolve;
    x.send('user=bob&new_password=hunter2&PIN=1234&max_tokens=5');
  });
})();
"""


def test_the_sdk_uploads_no_secret(
    context: BrowserContext, sites: Sites, backlight: BacklightProcess
) -> None:
    options = (
        "{tracingOrigins: true, networkRecording: {recordHeadersAndBody: true, "
        "networkBodyKeysToRedact: ['pin']}}"
    )
    sites.app.pages["/redaction"] = sdk_page(
        backlight,
        options,
        "<h1>Account</h1>",
        f"const API = {json.dumps(sites.api.url('api.shop.test'))};" + SCRIPT,
    )
    page = context.new_page()
    page.goto(sites.page_url("/redaction"))
    page.evaluate("window.done")
    sid = page.evaluate("H.getSessionId()")

    def entries() -> dict[str, Any] | None:
        data = session_data(backlight, sid)
        found = {
            n["url"].rsplit("case=", 1)[1]: n["detail"]
            for n in (data or {}).get("network", [])
            if "case=" in n["url"]
        }
        return found if len(found) == 3 else None

    got = wait_for(entries, "the three requests of the page")

    change = got["password-change"]
    assert json.loads(change["request_body"]) == {
        "new_password": R,
        "password_confirmation": R,
        "id_token": R,
        "query": "shoes",
    }
    assert change["request_headers"]["x-client-secret"] == R
    assert change["request_headers"]["x-app"] == "kept"
    echo = json.loads(change["response_body"])
    assert echo["headers"]["x-client-secret"] == R  # a header map inside a JSON body
    assert json.loads(echo["body"])["new_password"] == R  # JSON encoded in a JSON string
    for secret in ("n3w-pass", "eyJ-id", "hdr-s3cret"):
        assert secret not in json.dumps(change), secret

    assert json.loads(got["tokens"]["response_body"]) == {
        "user": "bob",
        "token": R,
        "items": [{"password": R, "n": 1}],
    }

    form = got["form"]
    assert form["request_body"] == f"user=bob&new_password={R}&PIN={R}&max_tokens=5"
