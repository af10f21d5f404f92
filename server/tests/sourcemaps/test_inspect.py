"""What the server reads from an uploaded file without parsing it (``sourcemaps/inspect``)."""

from __future__ import annotations

import json

import pytest

from backlight_server.errors import ClientError
from backlight_server.sourcemaps import names
from backlight_server.sourcemaps.inspect import TAIL, inspect, kind_of

ID = "2f3b1a40-8c1e-4e4b-9a55-0123456789ab"


def test_kinds() -> None:
    assert [kind_of(n) for n in ("a.js", "a.MJS", "a.cjs", "a.js.map", "b.css.map", "x.txt")] == [
        "script",
        "script",
        "script",
        "map",
        "map",
        "other",
    ]


def test_map_fields() -> None:
    body = {"version": 3, "file": "app.js", "debugId": ID.upper(), "mappings": "AAAA"}
    seen = inspect("a.js.map", json.dumps(body, indent=2).encode())
    assert (seen.kind, seen.debug_id, seen.ref) == ("map", ID, "app.js")
    # the older spelling; a debugId inside sourcesContent (escaped) is not the map's
    inner = json.dumps({"sourcesContent": ['const m = {"debugId": "' + ID + '"}']})
    assert inspect("a.js.map", inner.encode()).debug_id is None
    assert inspect("a.js.map", ('{"debug_id":"' + ID + '"}').encode()).debug_id == ID
    assert (
        inspect("a.js.map", b'{"debugId":"not-a-uuid-not-a-uuid-not-a-uuid-00"}').debug_id is None
    )


def test_script_comments_in_the_tail() -> None:
    script = f"var a=1;\n//# debugId={ID}\n//# sourceMappingURL=app.js.map\n".encode()
    seen = inspect("app.js", script)
    assert (seen.kind, seen.debug_id, seen.ref) == ("script", ID, "app.js.map")
    inline = b"var a=1;\n//# sourceMappingURL=data:application/json;base64,eyJ2IjozfQ==\n"
    assert inspect("app.js", inline).ref == "data:"
    early = f"//# debugId={ID}\n".encode() + b" " * TAIL
    assert inspect("app.js", early).debug_id is None  # only the tail is searched


def test_refusals() -> None:
    with pytest.raises(ClientError) as err:
        inspect("a.js", b"ok\xff")
    assert err.value.code == "not_utf8" and "byte 2" in err.value.detail
    for bad in ("", "a.js", "https://a/" + "x" * 3000, "https://a/b c.js", "~/../x.js"):
        with pytest.raises(ClientError):
            names.check_url(bad)
    assert names.join("https://a.test/static/", "./js/a.js") == "https://a.test/static/js/a.js"
    with pytest.raises(ClientError):
        names.join("~/", "../x.js")
