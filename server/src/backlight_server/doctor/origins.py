"""Would the browser SDK on a page at ORIGIN add the tracing headers to a request to URL?

The rule of ``tracingOrigins`` in docs/linkage.md, as the browser SDK applies it
(sdk/browser/src/origins.ts); tests hold both to docs/linkage-vectors.json. The browser
finds the page's registrable domain with a cookie-domain probe; a command line has no
browser, so this uses a small list of multi-label public suffixes for the same answer. It
never treats a public suffix as a site (``a.github.io`` does not match ``b.github.io``).
A RegExp rule is read with Python's ``re``, which agrees with JavaScript on the patterns
people write for URLs (not on every pattern).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import SplitResult, urljoin, urlsplit

# Suffixes under which every name is a separate site (a sample of the Public Suffix List's
# most common multi-label entries; single-label TLDs are handled by the two-label rule).
PUBLIC_SUFFIXES = frozenset(
    {
        "co.uk",
        "org.uk",
        "ac.uk",
        "gov.uk",
        "com.au",
        "net.au",
        "org.au",
        "co.nz",
        "co.jp",
        "ne.jp",
        "or.jp",
        "com.br",
        "com.cn",
        "com.mx",
        "co.in",
        "co.za",
        "com.tr",
        "com.sg",
        "github.io",
        "gitlab.io",
        "netlify.app",
        "vercel.app",
        "herokuapp.com",
        "pages.dev",
        "workers.dev",
        "web.app",
        "firebaseapp.com",
        "azurewebsites.net",
        "cloudfront.net",
        "appspot.com",
        "fly.dev",
        "onrender.com",
        "s3.amazonaws.com",
        "blogspot.com",
    }
)

Rule = str | re.Pattern[str]
Rules = bool | Sequence[Rule] | None
"""``True``, ``False``, an array of strings and RegExps, or ``None``: not given."""

_ABSOLUTE = re.compile(r"[a-z][a-z\d+.-]*:|//", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_JS_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "g": 0, "u": 0, "d": 0}


def regexp(source: str, flags: str = "") -> re.Pattern[str]:
    """A JavaScript RegExp ``/source/flags`` as a Python pattern (``y`` is not supported)."""
    bits = 0
    for flag in flags:
        if flag not in _JS_FLAGS:
            raise ValueError(f"RegExp flag {flag!r} is not supported here (only dgimsu)")
        bits |= _JS_FLAGS[flag]
    return re.compile(source, bits)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def site_of(host: str) -> str:
    """The registrable domain of ``host`` (the host itself for IPs and single labels)."""
    host = host.lower().rstrip(".")
    if _is_ip(host) or "." not in host:
        return host
    labels = host.split(".")
    for size in (3, 2):  # length of a public suffix, in labels
        if len(labels) > size and ".".join(labels[-size:]) in PUBLIC_SUFFIXES:
            return ".".join(labels[-size - 1 :])
    return ".".join(labels[-2:])


def _port(url: SplitResult) -> int | None:
    try:
        return url.port or _DEFAULT_PORTS.get(url.scheme)
    except ValueError:
        return None


def _origin(url: SplitResult) -> tuple[str, str, int | None]:
    return url.scheme, url.hostname or "", _port(url)


def _href(url: SplitResult) -> str:
    """The URL as a browser's ``URL.href`` spells it: scheme and host in lower case, no
    default port, ``/`` for an empty path (no percent-encoding is redone)."""
    host = url.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = _port(url)
    if port is not None and port != _DEFAULT_PORTS.get(url.scheme):
        host += f":{port}"
    auth = url.netloc.rpartition("@")[0]
    query = f"?{url.query}" if url.query else ""
    fragment = f"#{url.fragment}" if url.fragment else ""
    return f"{url.scheme}://{auth + '@' if auth else ''}{host}{url.path or '/'}{query}{fragment}"


def matches(rules: Rules, page: str, raw: str) -> tuple[bool, str]:
    """(traced, reason) for a request to ``raw`` (as the app wrote it) from ``page``."""
    page_url = urlsplit(page)
    url = urlsplit(urljoin(page, raw.strip()))
    if url.scheme not in _DEFAULT_PORTS:
        return False, f"only http and https requests are traced, not {url.scheme or raw!r}"
    if rules is None:
        if _origin(url) == _origin(page_url):
            return True, "tracingOrigins not given: the request is to the page's own origin"
        return False, (
            "tracingOrigins not given: only the page's own origin (scheme, host and port) is traced"
        )
    if rules is True:
        return _default(page_url, url, raw)
    if rules is False:
        return False, "tracingOrigins: false traces nothing"
    href = _href(url)
    for rule in rules:
        if isinstance(rule, str):
            if rule and rule in href:
                return True, f"{href} contains {rule!r}"
        elif rule.search(href):
            return True, f"{href} matches /{rule.pattern}/"
    return False, f"no entry of tracingOrigins matches {href}"


def _default(page_url: SplitResult, url: SplitResult, raw: str) -> tuple[bool, str]:
    page, target = page_url.hostname or "", url.hostname or ""
    if not _ABSOLUTE.match(raw.strip()):
        return True, "a relative URL is always traced"
    if target == "localhost" or target.endswith(".localhost"):
        return True, "localhost is always traced"
    if target == page:
        return True, "the API is on the page's own host"
    site = site_of(page)
    if target == site or target.endswith("." + site):
        return True, f"the API is on the page's site {site} (a subdomain or the parent)"
    return False, (
        f"{target} is not the page's host {page} nor part of its site {site}; "
        f"add it to tracingOrigins, e.g. tracingOrigins: ['{target}']"
    )


def traced_by_default(page_origin: str, url: str) -> tuple[bool, str]:
    """(matched, reason) for ``tracingOrigins: true``."""
    return matches(True, page_origin, url)


_WORDS: dict[str, Rules] = {"true": True, "false": False, "default": None}
_LITERAL = re.compile(r"/(.+)/([a-z]*)", re.DOTALL)


def parse_rules(values: Sequence[str] | None) -> Rules:
    """``--tracing-origins`` values: none or ``true`` (the doctor's default), ``false``,
    ``default`` (not given), or entries: ``/source/flags`` for a RegExp, else a string."""
    if not values:
        return True
    if len(values) == 1 and values[0] in _WORDS:
        return _WORDS[values[0]]
    rules: list[Rule] = []
    for value in values:
        if value in _WORDS:
            raise ValueError(f"{value} cannot be combined with other --tracing-origins entries")
        literal = _LITERAL.fullmatch(value)
        try:
            rules.append(regexp(literal[1], literal[2]) if literal else value)
        except re.error as exc:
            raise ValueError(f"--tracing-origins {value}: not a valid RegExp ({exc})") from None
    return rules


def describe(rules: Rules) -> str:
    """``rules`` as the option would be written in ``H.init``."""
    if rules is None:
        return "tracingOrigins not given"
    if isinstance(rules, bool):
        return f"tracingOrigins: {str(rules).lower()}"
    entries = [repr(r) if isinstance(r, str) else f"/{r.pattern}/" for r in rules]
    return f"tracingOrigins: [{', '.join(entries)}]"
