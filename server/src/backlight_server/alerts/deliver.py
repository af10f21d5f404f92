"""The deliverer: due outbox rows → messages, retried with backoff, every attempt logged.

Runs on the alerts thread's own event loop, each message a task of its own, each cut off
after ``TIMEOUT_S``. At most ``PER_DESTINATION`` attempts are under way at once to one
destination (a URL's scheme, host and port; an SMTP server), and nothing else is shared,
so a hanging receiver delays the messages to it and nothing else. Rows of one rule,
channel and slot are one send: a message each when they are at most the rule's
``digest_threshold``, else one digest.

At most once per event and channel: before an attempt its rows are marked ``sending``
(committed); an answer marks them ``delivered``, ``pending`` (a retry, at 2, 4, 8 … s or
the receiver's ``Retry-After``) or ``failed`` (after ``MAX_ATTEMPTS``, the last log entry
saying it was given up, or an answer that retrying cannot change). Rows found still
``sending`` after their attempt's deadline were cut off by a crash: whether the receiver
got them is unknown, so they are not sent again (``failed``, "interrupted").
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from backlight_server.alerts import events
from backlight_server.alerts.channels.config import (
    SECRET_FIELDS,
    Channel,
    EmailChannel,
    mask,
    post_url,
)
from backlight_server.alerts.channels.send import deliver
from backlight_server.alerts.message import Alert
from backlight_server.alerts.rules import Rule, readable_rule
from backlight_server.store.base import Row, Store

log = logging.getLogger("backlight.alerts")
PER_DESTINATION = 8
MAX_CONNECTIONS = 128  # the alerts thread's HTTP pool: 16 hanging destinations at a time
TIMEOUT_S = 12.0  # past the channel's own time limit (send.TIMEOUT_S), which fires first
GRACE_S = 30.0  # past an attempt's timeout: a row still "sending" was cut off
MAX_ATTEMPTS = 10
MAX_BACKOFF_S = 3600.0
DUE_LIMIT = 2000
Send = Callable[[Channel, Alert, httpx.AsyncClient], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """An attempt's outcome, its error without secrets."""

    ok: bool
    status: int | None
    error: str
    retry: bool
    retry_after_s: float | None = None


def scrub(text: str, channel: Channel) -> str:
    """An error text without the channel's secrets (an URL in an exception, say)."""
    for name in SECRET_FIELDS.get(channel.kind, ()):
        secret = str(getattr(channel, name, "") or "")
        if secret:
            text = text.replace(secret, mask(secret))
    return text[:500]


def backoff_s(attempts: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(MAX_BACKOFF_S, max(0.0, retry_after))
    return min(MAX_BACKOFF_S, 2.0**attempts)


async def send_logged(
    store: Store,
    rule: Rule,
    index: int,
    alert: Alert,
    key: str,
    attempt: int,
    client: httpx.AsyncClient,
    send: Send = deliver,
) -> Outcome:
    """One attempt, cut off after ``TIMEOUT_S``, written to the delivery log."""
    out, entry = await send_one(rule, index, alert, key, attempt, client, send)
    await asyncio.to_thread(store.log_alert_delivery, entry)
    return out


async def send_one(
    rule: Rule,
    index: int,
    alert: Alert,
    key: str,
    attempt: int,
    client: httpx.AsyncClient,
    send: Send = deliver,
) -> tuple[Outcome, Row]:
    """One attempt, cut off after ``TIMEOUT_S``: its outcome and its delivery-log entry."""
    channel = rule.channels[index]
    try:
        result = await asyncio.wait_for(send(channel, alert, client), TIMEOUT_S)
        out = Outcome(
            bool(result.ok),
            result.status,
            scrub(str(result.error), channel),
            bool(result.retry),
            result.retry_after_s,
        )
    except TimeoutError:
        out = Outcome(False, None, f"no answer within {TIMEOUT_S:g} s", True)
    except Exception as exc:  # a renderer's bug must not stop the deliverer
        log.warning("alert delivery raised %s", type(exc).__name__)
        out = Outcome(False, None, type(exc).__name__, True)
    ok, status, error = out.ok, out.status, out.error
    entry = {
        "at_ms": time.time() * 1000,
        "rule_id": rule.id,
        "channel": index,
        "kind": channel.kind,
        "key": key,
        "events": len(alert.events),
        "ok": ok,
        "status": status,
        "error": error,
        "attempt": attempt,
    }
    return out, entry


Mark = tuple[str, int, float, str]  # state, attempts, next_ms, error


def destination(channel: Channel) -> str:
    """Where a channel's messages go: its URL's scheme, host and port, or its SMTP server."""
    if isinstance(channel, EmailChannel):
        return f"smtp://{channel.host.lower()}:{channel.port}"
    try:
        parsed = httpx.URL(post_url(channel) or "")
        return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"
    except Exception:  # not a URL httpx reads (an IDNA error, say): the send will say so
        return channel.kind


def retry_at_ms(wait_s: float) -> float:
    """When a retry is due: ``wait_s`` from now, rounded up to a whole second, so that
    retries timed out together (a hanging receiver's) are one store write, not one each."""
    return math.ceil(time.time() + wait_s) * 1000.0


class Deliverer:
    """Store writes per tick, not per message: the ``sending`` marks of every group due
    are one write before any is sent; outcomes (``delivered``, a retry, ``failed``) and
    delivery-log entries are kept and written together (``flush``) in the next tick,
    once its messages are on their way (so those writes never delay a send). Until then
    a sent row stays ``sending`` with its deadline ahead: not due, so not sent again; a
    crash before the flush leaves it so (``failed``, "interrupted", past the deadline)
    and loses its log entry; at most once holds. A retry is due from the tick after its
    outcome was written."""

    def __init__(self, store: Store, client: httpx.AsyncClient, send: Send = deliver) -> None:
        self.store, self.client, self.send = store, client, send
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._inflight: set[str] = set()
        self._marks: dict[Mark, list[Row]] = {}
        self._entries: list[Row] = []
        self._rules: dict[str, Row] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def flush(self) -> None:
        """Write the outcomes and log entries kept since the last flush (what a failed
        write left is kept for the next one)."""
        marks, entries = list(self._marks.items()), self._entries
        self._marks, self._entries = {}, []
        done = 0
        try:
            for (state, attempts, next_ms, error), rows in marks:
                await asyncio.to_thread(
                    self.store.mark_alerts, rows, state, attempts, next_ms, error
                )
                done += 1
            if entries:
                await asyncio.to_thread(self.store.log_alert_deliveries, entries)
                entries = []
        except BaseException:
            for key, rows in marks[done:]:
                self._marks.setdefault(key, [])[:0] = rows
            self._entries[:0] = entries
            raise

    async def run_once(self, now_ms: float, rules: list[Row] | None = None) -> int:
        """Start a task for every due group not already on its way; returns how many.
        ``rules``: the stored rules as just read (else read here when something is due)."""
        try:
            return await self._start(now_ms, rules)
        finally:
            await self.flush()  # the earlier ticks' outcomes, once these are on their way

    async def _start(self, now_ms: float, rules: list[Row] | None) -> int:
        rows = await asyncio.to_thread(self.store.due_alerts, now_ms, DUE_LIMIT)
        rows = [r for r in rows if r["key"] not in self._inflight]
        cut = [r for r in rows if r["state"] == "sending"]
        if cut:
            error = "interrupted during delivery (crash or stop): not sent again"
            await asyncio.to_thread(
                self.store.mark_alerts, cut, "failed", int(cut[0]["attempts"]), 0.0, error
            )
        groups: dict[tuple[str, int, float], list[Row]] = {}
        for r in rows:
            if r["state"] == "pending":
                groups.setdefault(
                    (r["rule_id"], int(r["channel"]), float(r["slot_ms"])), []
                ).append(r)
        if not groups:
            return 0
        # committed before anything is sent: a crash from here on sends none of them again
        deadline = time.time() * 1000 + (TIMEOUT_S + GRACE_S) * 1000
        by_attempt: dict[int, list[Row]] = {}
        for group in groups.values():
            for r in group:
                by_attempt.setdefault(int(r["attempts"]) + 1, []).append(r)
        for attempt, marked in sorted(by_attempt.items()):
            await asyncio.to_thread(
                self.store.mark_alerts, marked, "sending", attempt, deadline, ""
            )
        if rules is None:
            rules = await asyncio.to_thread(self.store.alert_rules)
        self._rules = {str(r["id"]): r for r in rules}
        for group in groups.values():
            self._inflight.update(r["key"] for r in group)
            task = asyncio.create_task(self._group(group))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(groups)

    async def _group(self, rows: list[Row]) -> None:
        try:
            await self._send_group(rows)
        except Exception:
            log.exception("alert delivery failed")
        finally:
            self._inflight.difference_update(r["key"] for r in rows)

    async def _send_group(self, rows: list[Row]) -> None:
        found = self._rules.get(str(rows[0]["rule_id"]))
        rule = readable_rule(found["body"]) if found else None
        index = int(rows[0]["channel"])
        if rule is None or index >= len(rule.channels):
            what = (
                "the rule was deleted"
                if found is None
                else "this server cannot read the rule"
                if rule is None
                else "the channel was removed"
            )
            await self._mark(rows, "failed", int(rows[0]["attempts"]), 0.0, what)
            return
        loaded = [events.load(r["event"]) for r in rows]
        resolves = [(row, ev) for row, (ev, resolve) in zip(rows, loaded, strict=True) if resolve]
        rows = [row for row, (_, resolve) in zip(rows, loaded, strict=True) if not resolve]
        evs = tuple(event for event, resolve in loaded if not resolve)
        if len(rows) > rule.digest_threshold:
            await self._attempt(rule, index, rows, Alert(rule.id, rule.name, evs, digest=True))
        else:
            # a message each, side by side (at most PER_DESTINATION at once): the last event
            # of a slot does not wait for every other one's send and store writes
            await asyncio.gather(
                *(
                    self._attempt(rule, index, [row], Alert(rule.id, rule.name, (event,)))
                    for row, event in zip(rows, evs, strict=True)
                )
            )
        for row, event in resolves:  # after the triggers of their slot; never in a digest
            alert = Alert(rule.id, rule.name, (event,), resolved=True)
            await self._attempt(rule, index, [row], alert)

    async def _attempt(self, rule: Rule, index: int, rows: list[Row], alert: Alert) -> None:
        """One send of rows already marked ``sending`` (``run_once``)."""
        attempt = max(int(r["attempts"]) for r in rows) + 1
        key = rows[0]["key"] if len(rows) == 1 else f"digest:{rows[0]['key']}+{len(rows) - 1}"
        where = destination(rule.channels[index])
        limit = self._limits.setdefault(where, asyncio.Semaphore(PER_DESTINATION))
        async with limit:
            result, entry = await send_one(rule, index, alert, key, attempt, self.client, self.send)
        self._entries.append(entry)
        if result.ok:
            await self._mark(rows, "delivered", attempt, 0.0, "")
        elif result.retry and attempt < MAX_ATTEMPTS:
            wait = backoff_s(attempt, result.retry_after_s)
            await self._mark(rows, "pending", attempt, retry_at_ms(wait), result.error)
        else:
            if result.retry:  # worth another try, but none is left: the log says so
                log.warning(
                    "alert %s to channel %d given up after %d attempts: %s",
                    key,
                    index,
                    attempt,
                    result.error,
                )
                entry["error"] = f"{result.error} (given up after {attempt} attempts)"
            await self._mark(rows, "failed", attempt, 0.0, str(entry["error"]))

    async def _mark(
        self, rows: list[Row], state: str, attempts: int, next_ms: float, error: str
    ) -> None:
        """Kept for the next ``flush`` (rows of a retry due at the same time go together)."""
        self._marks.setdefault((state, attempts, next_ms, error), []).extend(rows)
