"""The checks: CORS preflight of the API, tracingOrigins, a header value a backend got, and
the Backlight server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from backlight_server.doctor.origins import Rules, describe, matches
from backlight_server.names import HEADER, TRACEPARENT_HEADER
from backlight_server.pipeline.linkage import ID_RULE, MAX_HEADER, clean_id, parse_header

NEEDED_HEADERS = (HEADER, TRACEPARENT_HEADER)
TIMEOUT_S = 10.0


@dataclass
class Finding:
    ok: bool
    title: str
    detail: str


def _open(req: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def check_cors(origin: str, url: str, method: str = "GET") -> Finding:
    """Send the preflight a browser sends before a request carrying our headers."""
    req = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": ",".join(NEEDED_HEADERS),
        },
    )
    title = f"CORS preflight {method} {url} from {origin}"
    try:
        status, headers, _ = _open(req)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Finding(False, title, f"the API did not answer: {exc}")
    allow_origin = headers.get("access-control-allow-origin", "")
    allowed = {
        h.strip().lower()
        for h in headers.get("access-control-allow-headers", "").split(",")
        if h.strip()
    }
    problems = []
    if not 200 <= status < 300:
        problems.append(f"the preflight was answered {status}, not 2xx")
    if allow_origin not in ("*", origin):
        problems.append(f"Access-Control-Allow-Origin is {allow_origin or 'missing'}, not {origin}")
    missing = [h for h in NEEDED_HEADERS if h not in allowed and "*" not in allowed]
    if missing:
        problems.append(
            "Access-Control-Allow-Headers does not allow "
            + ", ".join(missing)
            + " (the browser will refuse the request, so the SDK must not be "
            "told to trace this origin until it does)"
        )
    if problems:
        return Finding(False, title, "; ".join(problems))
    return Finding(
        True, title, f"allowed: origin {allow_origin}, headers {', '.join(NEEDED_HEADERS)}"
    )


def check_tracing(origin: str, url: str, rules: Rules = True) -> Finding:
    matched, reason = matches(rules, origin, url)
    verdict = "would be traced" if matched else "would NOT be traced"
    return Finding(matched, f"{describe(rules)} on {origin} {verdict} for {url}", reason)


def check_header(value: str) -> Finding:
    """Does this ``x-highlight-request`` value, as a backend received it, link? The verdict is
    the server's own reading (``pipeline/linkage.py``); the detail says why not."""
    shown = repr(value if len(value) <= 80 else value[:77] + "...")
    link = parse_header(value)
    if link.session_id:
        return Finding(
            True, f"{HEADER} {shown}", f"links session {link.session_id}, request {link.request_id}"
        )
    return Finding(
        False, f"{HEADER} {shown}", f"does not link: {_why_not(value)} (docs/linkage.md)"
    )


def _why_not(value: str) -> str:
    if len(value) > MAX_HEADER:
        return f"{len(value)} characters, more than {MAX_HEADER}"
    parts = value.strip(" \t").split("/")
    if len(parts) != 2:
        return "the value must be <session id>/<request id>, with exactly one slash"
    for name, part in zip(("session id", "request id"), parts, strict=True):
        if clean_id(part) is None:
            return f"the {name} {part[:40]!r} is not {ID_RULE}"
    return "malformed"


def _get_json(url: str, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, _, body = _open(urllib.request.Request(url, headers=headers))
    try:
        return status, json.loads(body or b"null")
    except ValueError:
        return status, None


def check_server(server: str, token: str | None, project: str | None) -> list[Finding]:
    base = server.rstrip("/")
    try:
        status, health = _get_json(base + "/healthz", None)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return [Finding(False, f"Backlight server at {base}", f"not reachable: {exc}")]
    if status != 200 or not isinstance(health, dict) or not health.get("ok"):
        return [Finding(False, f"Backlight server at {base}", f"/healthz answered {status}")]
    found = [Finding(True, f"Backlight server at {base}", "reachable and healthy")]
    if not token:
        found.append(
            Finding(
                False,
                "what the server has seen",
                "pass --token (or set BACKLIGHT_AUTH_TOKEN) to check it",
            )
        )
        return found
    query = f"?project_id={project}" if project else ""
    status, seen = _get_json(base + "/api/v1/status" + query, token)
    if status != 200 or not isinstance(seen, dict):
        found.append(
            Finding(
                False,
                "what the server has seen",
                f"/api/v1/status answered {status} (is the token right?)",
            )
        )
        return found
    pid = seen.get("project_id")
    found.append(
        Finding(
            bool(seen.get("sessions")),
            f"browser sessions for project {pid}",
            f"{seen.get('sessions', 0)} seen"
            if seen.get("sessions")
            else "none yet: is the browser SDK loaded with this project id and backendUrl?",
        )
    )
    found.append(
        Finding(
            bool(seen.get("spans") or seen.get("logs")),
            f"backend data for project {pid}",
            f"{seen.get('spans', 0)} spans, {seen.get('logs', 0)} logs"
            if seen.get("spans") or seen.get("logs")
            else "none yet: is a backend SDK exporting to this server?",
        )
    )
    linked = seen.get("first_linked_request")
    found.append(
        Finding(
            bool(linked),
            "a browser request linked to backend data",
            f"first: request {linked['request_id']}" if linked else _unlinked_reason(seen),
        )
    )
    return found


def _unlinked_reason(seen: dict[str, Any]) -> str:
    if not seen.get("sessions"):
        return "no sessions yet"
    if not seen.get("requests_with_id"):
        return (
            "no network request carried x-highlight-request: tracingOrigins did not "
            "match the API's host"
        )
    if seen.get("requests_with_id_failed"):
        return (
            "requests with x-highlight-request failed in the browser: CORS probably "
            "blocked the header"
        )
    return "requests carry ids but no backend span has them: no backend SDK is sending"
