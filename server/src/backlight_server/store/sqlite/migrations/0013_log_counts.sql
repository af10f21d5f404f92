-- Backlight schema, version 13 (issue 22): the log page's counts kept at write time.
--
-- Logs per minute and per hour × project × level × service. The writer adds each batch's
-- logs in the same transaction as the logs (writes.insert_logs), the retention purge takes
-- out what it deletes (writes.purge_before); store/sqlite/logstats.py reads whole hours and
-- whole minutes here and only the partial minutes at a range's ends from logs. Logs dated
-- before 1970 are left out (they are counted from logs). Filled here from the logs stored.
CREATE TABLE log_counts (
    width_s     INTEGER NOT NULL,   -- 60 or 3600
    start_s     INTEGER NOT NULL,   -- the bucket's start, seconds since the epoch
    project_id  TEXT NOT NULL,
    level       TEXT NOT NULL,
    service     TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (width_s, start_s, project_id, level, service)
) WITHOUT ROWID;

INSERT INTO log_counts (width_s, start_s, project_id, level, service, n)
SELECT 60, ts_ns / 60000000000 * 60, project_id, level, service, count(*)
FROM logs WHERE ts_ns >= 0 GROUP BY 2, 3, 4, 5;

INSERT INTO log_counts (width_s, start_s, project_id, level, service, n)
SELECT 3600, ts_ns / 3600000000000 * 3600, project_id, level, service, count(*)
FROM logs WHERE ts_ns >= 0 GROUP BY 2, 3, 4, 5;
