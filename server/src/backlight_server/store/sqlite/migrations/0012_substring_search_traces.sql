-- Backlight schema, version 12 (issue 22): log search on any substring, the trace list,
-- and the log page's histogram and facets.
--
-- 1. logs_fts is made again with FTS5's trigram tokenizer: a word of three characters or
--    more matches anywhere in a body ("broke" finds "broken", "id=42" finds "user_id=42"),
--    in any case, through the index. It keeps its name, its external content (logs) and
--    the writer's bulk statement (writes.INDEX_NEW_LOGS); the rebuild indexes every stored
--    body once.
DROP TRIGGER IF EXISTS logs_fts_delete;
DROP TABLE IF EXISTS logs_fts;
CREATE VIRTUAL TABLE logs_fts USING fts5(
    body, content='logs', content_rowid='id', tokenize='trigram'
);
INSERT INTO logs_fts(logs_fts) VALUES ('rebuild');
CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
    INSERT INTO logs_fts(logs_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

-- 2. The log page counts logs per time bucket and level, per level and per service over a
--    time range: an index that holds those columns answers without reading the rows. It
--    replaces logs_ts (its first column is the same).
CREATE INDEX logs_time ON logs(ts_ns, level, service, project_id);
DROP INDEX IF EXISTS logs_ts;

-- 3. One row per trace, kept by the writer as spans arrive (store/sqlite/traces.py): the
--    trace list walks it newest first by start and stops at the page size.
CREATE TABLE traces (
    trace_id     TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL,
    start_ns     INTEGER NOT NULL,   -- the earliest span's start
    end_ns       INTEGER NOT NULL,   -- the latest span's end
    span_count   INTEGER NOT NULL,
    error_count  INTEGER NOT NULL,   -- spans with the error status
    name         TEXT NOT NULL,      -- the earliest span's name and service
    service      TEXT NOT NULL,
    services     TEXT NOT NULL       -- a JSON array of its spans' services
) WITHOUT ROWID;
CREATE INDEX traces_start ON traces(start_ns);

INSERT INTO traces (trace_id, project_id, start_ns, end_ns, span_count, error_count, name,
                    service, services)
SELECT t.trace_id, t.project_id, t.start_ns, t.end_ns, t.n, t.errors,
       (SELECT name FROM spans s WHERE s.trace_id = t.trace_id ORDER BY start_ns LIMIT 1),
       (SELECT service FROM spans s WHERE s.trace_id = t.trace_id ORDER BY start_ns LIMIT 1),
       t.services
FROM (SELECT trace_id, min(project_id) AS project_id, min(start_ns) AS start_ns,
             max(end_ns) AS end_ns, count(*) AS n, sum(status_code = 2) AS errors,
             json_group_array(DISTINCT service) AS services
      FROM spans GROUP BY trace_id) t;
