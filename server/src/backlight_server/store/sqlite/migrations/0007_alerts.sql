-- Backlight schema, version 7: alerts (issue 20). Rules, the evaluator's cursor per
-- project (the last errors.id it read: rowid order is commit order, one writer), the
-- durable outbox (one row per rule, channel and event: inserting a key again keeps one),
-- and the delivery log. error_changes says, at commit, which instances made their group
-- ('new') or reopened a resolved one ('reopened'): the group's state alone cannot tell
-- once the instance has reopened it. Only those instances have a row.

CREATE TABLE error_changes (
    error_id    INTEGER PRIMARY KEY,
    change      TEXT NOT NULL
);

CREATE TABLE alert_rules (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_ms  REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE alert_cursors (
    project_id  TEXT PRIMARY KEY,
    position    TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE alert_outbox (
    key         TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    channel     INTEGER NOT NULL,
    slot_ms     REAL NOT NULL,
    event       TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_ms     REAL NOT NULL,
    last_error  TEXT NOT NULL DEFAULT '',
    created_ms  REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX alert_outbox_due ON alert_outbox(next_ms) WHERE state IN ('pending', 'sending');
CREATE INDEX alert_outbox_rule ON alert_outbox(rule_id, slot_ms);

CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY,
    at_ms       REAL NOT NULL,
    rule_id     TEXT NOT NULL,
    channel     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    events      INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT NOT NULL,
    attempt     INTEGER NOT NULL
);
CREATE INDEX alert_deliveries_rule ON alert_deliveries(rule_id, id);
