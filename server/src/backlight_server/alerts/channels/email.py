"""Email over SMTP: STARTTLS and AUTH, a plain-text and an HTML part (docs/alerts.md#email).

Every value that goes into a header (subject, sender, recipients) has CR and LF removed, so
user text cannot add a header; the HTML part escapes every user value. The server's
certificate is verified against the system's CAs (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` name
others), and credentials are never sent before STARTTLS.
"""

from __future__ import annotations

import html
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from backlight_server.alerts.channels.config import EmailChannel
from backlight_server.alerts.channels.fmt import (
    clean,
    detail,
    digest_line,
    facts,
    fit,
    headline,
    links,
    more_line,
    one_line,
    safe_link,
)
from backlight_server.alerts.message import Alert

SUBJECT_MAX = 200
TEXT_MAX = 8000
DIGEST_LINES = 100


def _header(value: str) -> str:
    """A header value: no CR, LF or other control characters, whatever the input."""
    return one_line(value)


def render(alert: Alert) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the alert."""
    subject = fit(_header("[Backlight] " + headline(alert)), SUBJECT_MAX)
    text: list[str] = [headline(alert), ""]
    parts: list[str] = [f"<h2>{html.escape(headline(alert))}</h2>"]
    if alert.digest:
        shown = alert.events[:DIGEST_LINES]
        items = []
        for event in shown:
            line = fit(digest_line(event), 300)
            link = safe_link(event.links.group or event.links.logs)
            text.append(f"- {line}" + (f"\n  {link}" if link else ""))
            anchor = f' <a href="{html.escape(link)}">open</a>' if link else ""
            items.append(f"<li>{html.escape(line)}{anchor}</li>")
        parts.append("<ul>" + "".join(items) + "</ul>")
        more = more_line(len(shown), len(alert.events))
        if more:
            text.append(more)
            parts.append(f"<p>{html.escape(more)}</p>")
    else:
        event = alert.events[0]
        about = detail(event)
        if about:
            about = fit(clean(about), TEXT_MAX)
            text += [about, ""]
            parts.append(f"<pre>{html.escape(about)}</pre>")
        rows = [(label, fit(value, 1000)) for label, value in facts(event)]
        text += [f"{label}: {value}" for label, value in rows] + [""]
        parts.append(
            "<table>"
            + "".join(
                f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
                for label, value in rows
            )
            + "</table>"
        )
        pairs = links(event)
        text += [f"{label}: {url}" for label, url in pairs]
        parts.append(
            "<p>"
            + " · ".join(
                f'<a href="{html.escape(url)}">{html.escape(label)}</a>' for label, url in pairs
            )
            + "</p>"
        )
    rule = one_line(alert.rule_name)
    text += ["", f"Backlight · rule {rule}"]
    parts.append(f"<p><small>Backlight · rule {html.escape(rule)}</small></p>")
    page = "<!doctype html><html><body>" + "\n".join(parts) + "</body></html>"
    return subject, "\n".join(text) + "\n", page


def message(channel: EmailChannel, alert: Alert) -> EmailMessage:
    subject, text, page = render(alert)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = _header(channel.sender)
    msg["To"] = ", ".join(_header(address) for address in channel.to)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="backlight.local")
    msg.set_content(text)
    msg.add_alternative(page, subtype="html")
    return msg


@dataclass(frozen=True, slots=True)
class SmtpOutcome:
    refused: dict[str, tuple[int, bytes]]  # recipients the server refused (the others got it)


class CleartextRefused(Exception):
    """Credentials would go over an unencrypted connection."""


def send(channel: EmailChannel, alert: Alert, timeout_s: float) -> SmtpOutcome:
    """Sends on this thread (run it on a worker thread). Every step waits at most for what
    is left of ``timeout_s``; raises smtplib's and the socket's errors."""
    deadline = time.monotonic() + timeout_s

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"SMTP delivery took longer than {timeout_s:g} s")
        return remaining

    def budget(smtp: smtplib.SMTP) -> None:
        if smtp.sock is not None:
            smtp.sock.settimeout(left())

    if channel.username and not channel.starttls:
        raise CleartextRefused("refusing to send SMTP credentials without STARTTLS")
    msg = message(channel, alert)
    smtp = smtplib.SMTP(channel.host, channel.port, timeout=left())
    try:
        budget(smtp)
        smtp.ehlo()
        if channel.starttls:
            budget(smtp)
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if channel.username:
            budget(smtp)
            smtp.login(channel.username, channel.password)
        budget(smtp)
        refused = smtp.send_message(
            msg, from_addr=_header(channel.sender), to_addrs=[_header(a) for a in channel.to]
        )
    finally:
        try:  # the message is sent once DATA is accepted: a failing QUIT changes nothing
            if smtp.sock is not None:
                smtp.sock.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return SmtpOutcome(refused=dict(refused))
