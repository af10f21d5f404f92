-- Backlight schema, version 1.
-- Times: browser data in epoch milliseconds (REAL), OTel data in epoch nanoseconds (INTEGER).
-- Partial indexes keep the write cost of unlinked rows low.

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  REAL NOT NULL
);

CREATE TABLE sessions (
    secure_id       TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    started_ms      REAL NOT NULL,
    last_ms         REAL NOT NULL,
    url             TEXT,
    last_url        TEXT,
    user_agent      TEXT,
    sdk_version     TEXT,
    environment     TEXT,
    service         TEXT,
    app_version     TEXT,
    identifier      TEXT,
    user_metadata   TEXT,
    pages           INTEGER NOT NULL DEFAULT 1,
    event_count     INTEGER NOT NULL DEFAULT 0,
    network_count   INTEGER NOT NULL DEFAULT 0,
    fe_error_count  INTEGER NOT NULL DEFAULT 0,
    dropped_events  INTEGER NOT NULL DEFAULT 0,
    dropped_other   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX sessions_project_start ON sessions(project_id, started_ms);
CREATE INDEX sessions_identifier ON sessions(identifier) WHERE identifier IS NOT NULL;

-- One row per committed browser batch: the idempotency key of the protocol.
CREATE TABLE batches (
    session_id   TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    received_ms  REAL NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

-- rrweb events, one zlib-compressed JSON array per batch.
CREATE TABLE replay_chunks (
    session_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    first_ms    REAL NOT NULL,
    last_ms     REAL NOT NULL,
    n_events    INTEGER NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE TABLE network (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL,
    request_id  TEXT,
    type        TEXT NOT NULL,
    method      TEXT NOT NULL,
    url         TEXT NOT NULL,
    status      INTEGER NOT NULL,
    start_ms    REAL NOT NULL,
    end_ms      REAL NOT NULL,
    error       TEXT,
    detail      TEXT
);
CREATE INDEX network_session ON network(session_id, start_ms);
CREATE INDEX network_request ON network(request_id) WHERE request_id IS NOT NULL;

CREATE TABLE console (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL,
    ts_ms       REAL NOT NULL,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    args        TEXT
);
CREATE INDEX console_session ON console(session_id, ts_ms);

CREATE TABLE track_events (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL,
    ts_ms       REAL NOT NULL,
    event       TEXT NOT NULL,
    properties  TEXT
);
CREATE INDEX track_session ON track_events(session_id, ts_ms);

CREATE TABLE spans (
    id              INTEGER PRIMARY KEY,
    project_id      TEXT NOT NULL,
    trace_id        TEXT NOT NULL,
    span_id         TEXT NOT NULL,
    parent_span_id  TEXT,
    name            TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    start_ns        INTEGER NOT NULL,
    end_ns          INTEGER NOT NULL,
    status_code     INTEGER NOT NULL,
    status_message  TEXT,
    service         TEXT NOT NULL,
    environment     TEXT,
    session_id      TEXT,
    request_id      TEXT NOT NULL,
    attributes      TEXT,
    events          TEXT
);
CREATE INDEX spans_trace ON spans(trace_id);
CREATE INDEX spans_request ON spans(request_id) WHERE request_id != trace_id;
CREATE INDEX spans_session ON spans(session_id) WHERE session_id IS NOT NULL;

CREATE TABLE logs (
    id               INTEGER PRIMARY KEY,
    project_id       TEXT NOT NULL,
    ts_ns            INTEGER NOT NULL,
    trace_id         TEXT,
    span_id          TEXT,
    severity_number  INTEGER NOT NULL,
    level            TEXT NOT NULL,
    body             TEXT NOT NULL,
    service          TEXT NOT NULL,
    environment      TEXT,
    session_id       TEXT,
    request_id       TEXT,
    attributes       TEXT
);
CREATE INDEX logs_ts ON logs(ts_ns);
CREATE INDEX logs_trace ON logs(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX logs_request ON logs(request_id) WHERE request_id IS NOT trace_id;
CREATE INDEX logs_session ON logs(session_id) WHERE session_id IS NOT NULL;

CREATE VIRTUAL TABLE logs_fts USING fts5(body, content='logs', content_rowid='id');
CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
    INSERT INTO logs_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
    INSERT INTO logs_fts(logs_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TABLE error_groups (
    id          INTEGER PRIMARY KEY,
    project_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    type        TEXT NOT NULL,
    message     TEXT NOT NULL,
    source      TEXT NOT NULL,
    stack       TEXT,
    first_ms    REAL NOT NULL,
    last_ms     REAL NOT NULL,
    count       INTEGER NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open',
    UNIQUE (project_id, fingerprint)
);
CREATE INDEX error_groups_last ON error_groups(project_id, last_ms);

CREATE TABLE errors (
    id           INTEGER PRIMARY KEY,
    group_id     INTEGER NOT NULL,
    project_id   TEXT NOT NULL,
    ts_ms        REAL NOT NULL,
    source       TEXT NOT NULL,
    type         TEXT NOT NULL,
    message      TEXT NOT NULL,
    stack        TEXT,
    raw_stack    TEXT,
    session_id   TEXT,
    request_id   TEXT,
    trace_id     TEXT,
    span_id      TEXT,
    service      TEXT,
    environment  TEXT,
    url          TEXT,
    attributes   TEXT
);
CREATE INDEX errors_group ON errors(group_id, ts_ms);
CREATE INDEX errors_session ON errors(session_id) WHERE session_id IS NOT NULL;
CREATE INDEX errors_request ON errors(request_id) WHERE request_id IS NOT NULL;
CREATE INDEX errors_trace ON errors(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX errors_ts ON errors(ts_ms);
