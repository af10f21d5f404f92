"""A session's browser, OS and device, read from its stored user agent when a page shows it.

Parsed by PyPI ``ua-parser`` (the uap-core rules, ``ua-parser-builtins``) through its
``ua-parser-rs`` resolver: Rust's ``regex``, whose matching time is linear in the input, so
no user agent can make a page slow. The input is capped at ``MAX_CHARS`` (ingest already
caps it at 512) and each distinct value is parsed once (LRU). Anything unexpected, from
the library or a stored value that is not text, reads as "unknown", never an error.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass

from ua_parser import OS, Device, Parser, UserAgent, load_builtins
from ua_parser.regex import Resolver

MAX_CHARS = 512
_log = logging.getLogger(__name__)
_lock = threading.Lock()
_parser: Parser | None = None


@dataclass(frozen=True)
class Context:
    """What the session page shows; ``None`` where the user agent does not say."""

    browser: str | None
    os: str | None
    device: str | None


def _get_parser() -> Parser:
    """The parser, built once (compiling the rules takes a few hundred ms)."""
    global _parser
    with _lock:
        if _parser is None:
            _parser = Parser(Resolver(load_builtins()))
        return _parser


def _version(*parts: str | None) -> str:
    out: list[str] = []
    for part in parts:
        if not part:
            break
        out.append(part)
    return ".".join(out)


def _named(family: str | None, version: str = "") -> str | None:
    if not family or family == "Other":
        return None
    return f"{family} {version}".strip()


def _browser(ua: UserAgent | None) -> str | None:
    return _named(ua.family, _version(ua.major, ua.minor)) if ua else None


def _os(os: OS | None) -> str | None:
    return _named(os.family, _version(os.major, os.minor, os.patch)) if os else None


def _device(device: Device | None) -> str | None:
    if device is None or not device.family or device.family == "Other":
        return None
    if device.brand and device.model and not device.family.startswith(device.brand):
        return f"{device.brand} {device.model}"
    return device.family


@functools.lru_cache(maxsize=2048)
def _parse(text: str) -> Context:
    try:
        result = _get_parser().parse(text)
        return Context(_browser(result.user_agent), _os(result.os), _device(result.device))
    except Exception:  # a library failure must not cost the page: shown as unknown
        _log.warning("could not parse a user agent", exc_info=True)
        return Context(None, None, None)


def describe(user_agent: object) -> Context:
    """Browser ("Chrome 126.0"), OS ("Mac OS X 10.15.7") and device ("Apple iPhone") of a
    stored user agent; any stored value is accepted."""
    if not isinstance(user_agent, str) or not user_agent.strip():
        return Context(None, None, None)
    return _parse(user_agent[:MAX_CHARS])
