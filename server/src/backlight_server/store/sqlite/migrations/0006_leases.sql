-- Backlight schema, version 6: leases of background jobs (Store.lease). Servers sharing a
-- store run each job once: the one holding its lease does (taken or renewed in one write
-- transaction, so exactly one process holds it at a time).

CREATE TABLE leases (
    name      TEXT PRIMARY KEY,
    holder    TEXT NOT NULL,
    until_ms  REAL NOT NULL
) WITHOUT ROWID;
