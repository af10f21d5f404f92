"""Would ``tracingOrigins: true`` on a page at ORIGIN match a request to URL?

The browser SDK finds the page's registrable domain with a cookie-domain probe; a command
line has no browser, so this uses the same rule with a small list of multi-label public
suffixes. It never treats a public suffix as a site (``a.github.io`` does not match
``b.github.io``).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

# Suffixes under which every name is a separate site (a sample of the Public Suffix List's
# most common multi-label entries; single-label TLDs are handled by the two-label rule).
PUBLIC_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp",
    "ne.jp", "or.jp", "com.br", "com.cn", "com.mx", "co.in", "co.za", "com.tr", "com.sg",
    "github.io", "gitlab.io", "netlify.app", "vercel.app", "herokuapp.com", "pages.dev",
    "workers.dev", "web.app", "firebaseapp.com", "azurewebsites.net", "cloudfront.net",
    "appspot.com", "fly.dev", "onrender.com", "s3.amazonaws.com", "blogspot.com",
})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
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
            return ".".join(labels[-size - 1:])
    return ".".join(labels[-2:])


def traced_by_default(page_origin: str, url: str) -> tuple[bool, str]:
    """(matched, reason) for ``tracingOrigins: true``."""
    page = urlsplit(page_origin).hostname or ""
    target = urlsplit(url).hostname or ""
    if not target:
        return True, "a relative URL is always traced"
    if target == "localhost" or target.endswith(".localhost"):
        return True, "localhost is always traced"
    if target == page:
        return True, "the API is on the page's own host"
    site = site_of(page)
    if site != page and (target == site or target.endswith("." + site)):
        return True, f"the API is on the page's site {site} (a subdomain or the parent)"
    if site == page and target.endswith("." + page):
        return True, f"the API is a subdomain of the page's host {page}"
    return False, (f"{target} is not the page's host {page} nor part of its site {site}; "
                   f"add it to tracingOrigins, e.g. tracingOrigins: ['{target}']")
