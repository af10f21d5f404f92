"""Redaction of secrets in recorded headers, bodies and OTLP attributes.

One rule for every source (the browser SDK applies the same one before upload, in
``sdk/browser/src/redact.ts``; both are tested against ``tests/vectors/redaction.json``):

- a *name* (header name, body key, last dotted segment of an attribute key) is
  normalised: lower-cased, ``-``, ``_``, ``.`` and spaces removed;
- it is sensitive when the normalised name is one of ``EXACT`` or contains one of
  ``CONTAINS``;
- a name that is sensitive only because it contains ``tokens`` or ``tokencount`` (a token
  *count*: ``max_tokens``, ``input_tokens``, ``promptTokenCount``) keeps a number value;
  anything else under it is redacted;
- the value under a sensitive name is replaced whole by ``"[REDACTED]"``, whatever it is.

Bodies are scanned as text in one pass, so JSON keeps its formatting, a cut or invalid
JSON text is redacted the same way (a value cut short is redacted to the end), a string
value that holds JSON is redacted inside (one level deep), and text that does not start
with ``{`` or ``[`` is also read as ``key=value&…`` pairs. The cost is linear in the text:
the scan only moves forward, and its regular expressions are single character classes,
which cannot backtrack more than once over a character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import orjson

REDACTED: Final = "[REDACTED]"
EXACT: Final = frozenset({"auth", "cvc", "cvv", "forwarded", "ssn", "xforwardedfor", "xrealip"})
CONTAINS: Final = (
    "apikey",
    "authorization",
    "cardnumber",
    "cookie",
    "creditcard",
    "csrf",
    "jwt",
    "passphrase",
    "passwd",
    "password",
    "privatekey",
    "secret",
    "token",
    "xsrf",
)
COUNT_WORDS: Final = ("tokencount", "tokens")
IGNORED_IN_NAMES: Final = "-_. "

KEEP, HIDE, COUNT = 0, 1, 2
"""What :func:`name_rule` says of a name: keep its value, hide it, hide it unless a number."""

_STRIP = str.maketrans("", "", IGNORED_IN_NAMES)
_MEMO_MAX = 4096  # entries; only names up to _MEMO_NAME characters are kept
_MEMO_NAME = 128
_names: dict[str, int] = {}


def _matches(n: str) -> bool:
    return n in EXACT or any(word in n for word in CONTAINS)


def _classify(name: str) -> int:
    n = name.lower().translate(_STRIP)
    if not _matches(n):
        return KEEP
    if "token" in n:
        rest = n
        for word in COUNT_WORDS:
            rest = rest.replace(word, "")
        if not _matches(rest):
            return COUNT
    return HIDE


def name_rule(name: str) -> int:
    """KEEP, HIDE or COUNT for a header name or body key (memoised, bounded)."""
    rule = _names.get(name)
    if rule is None:
        rule = _classify(name)
        if len(name) <= _MEMO_NAME:
            if len(_names) >= _MEMO_MAX:
                _names.clear()
            _names[name] = rule
    return rule


def _with_extra(extra: frozenset[str]) -> Callable[[str], int]:
    if not extra:
        return name_rule
    return lambda name: HIDE if name.lower() in extra else name_rule(name)


# --- bodies -------------------------------------------------------------------------------

_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
_SCALAR = re.compile(r"[^,}\] \t\n\r]*")
_PLAIN = re.compile(r'[^"{}\[\]]*')
_NUMBER = re.compile(r"-?[0-9][0-9.eE+\-]*\Z")
_JSONISH = re.compile(r"[ \t\n\r\ufeff]*[\[{]")
_ESCAPE = re.compile(r"%([0-7][0-9A-Fa-f])")


def _string_end(text: str, start: int) -> int:
    """End of the JSON string opening at ``start``; -1 if it is not closed.

    A quote closes it when an even number of backslashes precede it; that run lies after
    the previous quote, so each character is looked at a bounded number of times.
    """
    p = start
    while True:
        q = text.find('"', p + 1)
        if q < 0:
            return -1
        between = text[p + 1 : q]
        if (len(between) - len(between.rstrip("\\"))) % 2 == 0:
            return q + 1
        p = q


def _nested_end(text: str, start: int) -> int:
    """End of the object or array opening at ``start`` (the text's end if it is cut)."""
    n, depth, j = len(text), 0, start
    while True:
        m = _PLAIN.match(text, j)
        j = m.end() if m else j
        if j >= n:
            return n
        ch = text[j]
        if ch == '"':
            j = _string_end(text, j)
            if j < 0:
                return n
            continue
        depth += 1 if ch in "{[" else -1
        j += 1
        if depth <= 0:
            return j


def _key(token: str) -> str:
    """The text of a closed JSON string token, escapes decoded when they are valid."""
    if "\\" not in token:
        return token[1:-1]
    try:
        value = json.loads(token)
    except ValueError:
        return token[1:-1]
    return value if isinstance(value, str) else token[1:-1]


def _closed(token: str) -> str:
    """A cut string token closed: an escape cut short at its end is dropped first."""
    b = token.rfind("\\", max(0, len(token) - 6))
    if b > 0:
        run = b + 1 - len(token[: b + 1].rstrip("\\"))  # backslashes ending at b
        escape = token[b:]
        if run % 2 and (len(escape) < 2 or (escape[1] == "u" and len(escape) < 6)):
            token = token[:b]
    return token + '"'


def _embedded(token: str, rule: Callable[[str], int], cut: bool = False) -> str | None:
    """A string value holding JSON (``"{\\"password\\": …}"``), redacted and encoded
    again; None when it holds none or nothing in it changes. One level deep only. A ``cut``
    token (no closing quote, the text ends) stays without one."""
    if cut:
        token = _closed(token)
    try:
        inner = json.loads(token)
    except ValueError:
        return None
    if not isinstance(inner, str):
        return None
    out = _json_pass(inner, rule, embedded=False)
    if out == inner:
        return None
    again = json.dumps(out, ensure_ascii=False)
    return again[:-1] if cut else again


def _json_pass(text: str, rule: Callable[[str], int], embedded: bool = True) -> str:
    parts: list[str] = []
    last = pos = 0
    n = len(text)
    while True:
        q = text.find('"', pos)
        if q < 0:
            break
        end = _string_end(text, q)
        holds_json = embedded and text[q + 1 : q + 2] in ("{", "[")
        if end < 0:  # the rest of the text is inside a string
            if holds_json and '\\"' in text[q:]:
                again = _embedded(text[q:], rule, cut=True)
                if again is not None:
                    parts += (text[last:q], again)
                    last = n
            break
        colon = _COLON.match(text, end)
        if colon is None:  # a value: JSON encoded in it is redacted too
            if holds_json and '\\"' in text[q:end]:
                again = _embedded(text[q:end], rule)
                if again is not None:
                    parts += (text[last:q], again)
                    last = end
            pos = end
            continue
        pos = start = colon.end()
        verdict = rule(_key(text[q:end]))
        if verdict == KEEP or start >= n:
            continue
        ch = text[start]
        if ch == '"':
            stop = _string_end(text, start)
            stop = n if stop < 0 else stop
        elif ch in "{[":
            stop = _nested_end(text, start)
        else:
            m = _SCALAR.match(text, start)
            stop = m.end() if m else start
            if stop == start or (verdict == COUNT and _NUMBER.match(text, start, stop)):
                continue
        parts += (text[last:start], '"', REDACTED, '"')
        last = pos = stop
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _form_key(raw: str) -> str:
    if "%" not in raw:
        return raw
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)


def _form_pass(text: str, rule: Callable[[str], int]) -> str:
    """``key=value`` pairs: a key starts the text or follows ``&`` or ``?``; a value runs
    to the next ``&``."""
    if "=" not in text:
        return text
    parts: list[str] = []
    last = seg = 0
    n = len(text)
    while seg <= n:
        amp = text.find("&", seg)
        seg_end = n if amp < 0 else amp
        part = seg
        while part < seg_end:
            q = text.find("?", part, seg_end)
            part_end = seg_end if q < 0 else q
            eq = text.find("=", part, part_end)
            if eq > part:
                verdict = rule(_form_key(text[part:eq]))
                value_start = eq + 1
                if (
                    verdict != KEEP
                    and value_start < seg_end
                    and not (verdict == COUNT and _NUMBER.match(text, value_start, seg_end))
                ):
                    parts += (text[last:value_start], REDACTED)
                    last = seg_end
                    break
            part = part_end + 1
        seg = seg_end + 1
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


_WORDS = (*sorted(EXACT), *CONTAINS)


def _may_hide(text: str, extra: frozenset[str]) -> bool:
    """False when no key of ``text`` can be sensitive: no rule word (nor extra name) occurs
    in it at all, and no escape could spell one. A fast path (C string scans only) for the
    many bodies with no secret."""
    if "\\u" in text or "%" in text:
        return True
    low = text.lower()
    if any(name in low for name in extra):
        return True
    flat = low.translate(_STRIP)
    return any(word in flat for word in _WORDS)


def redact_body(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with the value of every sensitive key replaced by ``[REDACTED]``.

    JSON (valid, cut or invalid) is scanned for ``"key": value`` at any depth; text that
    does not start with ``{`` or ``[`` is also redacted as ``key=value&…`` pairs. Valid
    JSON stays valid and keeps its formatting. ``extra`` holds more key names (matched
    whole, case-insensitively). Never raises: on an unexpected failure the whole text is
    replaced.
    """
    try:
        names = frozenset(k.lower() for k in extra)
        if not _may_hide(text, names):
            return text
        rule = _with_extra(names)
        out = _json_pass(text, rule)
        return out if _JSONISH.match(text) else _form_pass(out, rule)
    except Exception:
        return REDACTED


# --- headers ------------------------------------------------------------------------------


def _header_value(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()
    if isinstance(value, list) and value:
        texts = [_header_value(v) for v in value if not isinstance(v, list | dict)]
        return ", ".join(t for t in texts if t is not None)
    return None


def _header_pairs(headers: object) -> Iterable[tuple[object, object]] | None:
    if isinstance(headers, Mapping):
        return headers.items()
    if isinstance(headers, list | tuple):
        return [(p[0], p[1]) for p in headers if isinstance(p, list | tuple) and len(p) == 2]
    return None


def redact_headers(headers: object, extra: Iterable[str] = ()) -> dict[str, str] | None:
    """A header map (a mapping or a list of ``[name, value]`` pairs) with lower-cased names
    and sensitive values replaced by ``[REDACTED]``; None when ``headers`` is neither.

    Values that are numbers or booleans become their JSON text, lists are joined with
    ``", "``; other values (objects, null) and names that are not strings are dropped.
    ``extra`` holds more names (case-insensitive). Never raises.
    """
    try:
        pairs = _header_pairs(headers)
        if pairs is None:
            return None
        rule = _with_extra(frozenset(k.lower() for k in extra))
        out: dict[str, str] = {}
        for name, value in pairs:
            if not isinstance(name, str):
                continue
            verdict = rule(name)
            text = _header_value(value)
            if verdict == HIDE or (
                verdict == COUNT and not (text is not None and _NUMBER.match(text))
            ):
                out[name.lower()] = REDACTED
            elif text is not None:
                out[name.lower()] = text
        return out
    except Exception:
        return None


# --- OTLP attributes ----------------------------------------------------------------------

_NEVER = ("highlight.", "exception.", "service.", "telemetry.", "otel.")
_HEADER_PREFIXES = (
    "http.request.header.",
    "http.response.header.",
    "http.request.headers.",
    "http.response.headers.",
    "rpc.grpc.request.metadata.",
    "rpc.grpc.response.metadata.",
)
_HEADER_MAPS = frozenset({"http.request.headers", "http.response.headers"})
_BODIES = frozenset(
    {
        "http.request.body",
        "http.response.body",
        "http.request.body.content",
        "http.response.body.content",
    }
)
_CUT = "…[truncated]"  # pipeline/otlp.py's mark on a cut string
# Attribute kinds: KEEP, HIDE and COUNT as for names, then these three.
HEADER_MAP, BODY, HEADER_COUNT = 3, 4, 5
_attrs: dict[str, int] = {}


def _attribute_kind(key: str) -> int:
    if key.startswith(_NEVER):
        return KEEP
    if key in _BODIES:
        return BODY
    if key in _HEADER_MAPS:
        return HEADER_MAP
    for prefix in _HEADER_PREFIXES:
        if key.startswith(prefix):
            rule = name_rule(key[len(prefix) :])
            return HEADER_COUNT if rule == COUNT else rule
    return name_rule(key.rpartition(".")[2])


def attribute_kind(key: str) -> int:
    """KEEP, HIDE, COUNT, HEADER_MAP, BODY or HEADER_COUNT for an attribute key (memoised,
    bounded)."""
    kind = _attrs.get(key)
    if kind is None:
        kind = _attribute_kind(key)
        if len(key) <= _MEMO_NAME:
            if len(_attrs) >= _MEMO_MAX:
                _attrs.clear()
                KEPT.clear()
            _attrs[key] = kind
            if kind == KEEP:
                KEPT.add(key)
    return kind


KEPT: set[str] = set()
"""Attribute keys known to need nothing (bounded with the memo). The hot path
(pipeline/otlp.py) skips :func:`redact_attributes` for a record whose keys are all in it:
``KEPT.issuperset(attrs)`` is one set lookup per key, in C. Only cleared, never replaced,
so a bound ``KEPT.issuperset`` stays valid."""


def has_map(value: object) -> bool:
    """A map, or a list holding one: its keys need the rule too."""
    return isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    )


def _structured(value: object, redact: Callable[[str], str]) -> object:
    """A map or list redacted through its JSON text; the value itself when nothing changes."""
    try:
        text = orjson.dumps(value, default=str).decode()
    except (orjson.JSONEncodeError, TypeError):
        return REDACTED
    out = redact(text)
    return value if out == text else orjson.loads(out)


def _body_value(value: object) -> object:
    if isinstance(value, str):
        if value.endswith(_CUT):
            return redact_body(value[: -len(_CUT)]) + _CUT
        return redact_body(value)
    if isinstance(value, dict | list):
        return _structured(value, redact_body)
    return value


def _header_map_value(value: object) -> object:
    if isinstance(value, dict):
        return redact_headers(value)
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return redact_body(value)
        if isinstance(parsed, dict):
            return orjson.dumps(redact_headers(parsed)).decode()
        return redact_body(value)
    return REDACTED if isinstance(value, list) else value


def redact_attributes(attrs: dict[str, object]) -> dict[str, object]:
    """OTLP attributes with secrets redacted; ``attrs`` itself when nothing changes.

    - never changed: keys under ``highlight.``, ``exception.``, ``service.``,
      ``telemetry.`` and ``otel.``;
    - ``http.request.header.<name>``, ``http.response.header.<name>`` (and highlight's
      ``http.{request,response}.headers.<name>``, gRPC's
      ``rpc.grpc.{request,response}.metadata.<name>``): by the header name;
    - ``http.request.headers``/``http.response.headers`` (a map, or its JSON text as
      highlight.run sends it): each header of the map;
    - ``http.request.body``/``http.response.body`` (and ``….body.content``): the body rule;
    - any other key by its last dotted segment; maps nested in a value by their keys.
    """
    out: dict[str, object] | None = None
    for key, value in attrs.items():
        kind = attribute_kind(key)
        if kind == KEEP:
            if not has_map(value) or key.startswith(_NEVER):
                continue
            new = _structured(value, redact_body)
        elif kind == HIDE:
            new = REDACTED
        elif kind == COUNT:
            number = isinstance(value, int | float) and not isinstance(value, bool)
            new = value if number else REDACTED
        elif kind == HEADER_COUNT:
            text = _header_value(value)
            new = value if text is not None and _NUMBER.match(text) else REDACTED
        elif kind == BODY:
            new = _body_value(value)
        else:
            new = _header_map_value(value)
        if new is not value and new != value:
            if out is None:
                out = dict(attrs)
            out[key] = new
    return attrs if out is None else out
