-- Backlight schema, version 3: indexes for matching by time (store/sqlite/timematch.py).
-- A backend error or log that carries a session id but no request id of its own (its
-- request id is its trace id, or both are empty: highlight's Node SDK sends such records)
-- is attached at query time to the network request of its session that was in flight
-- when it was recorded. These partial indexes hold only such rows, by session and time,
-- so the lookup is a range scan and rows linked by request id cost nothing more to write.
-- They hold every column the matching reads or tests (covering: SQLite checks the partial
-- index's own WHERE terms again), so it never visits the tables.

CREATE INDEX logs_session_only ON logs(session_id, ts_ns, trace_id, severity_number,
                                       request_id)
    WHERE session_id IS NOT NULL AND request_id IS trace_id;

CREATE INDEX errors_session_only ON errors(session_id, ts_ms, trace_id, request_id, source)
    WHERE session_id IS NOT NULL AND request_id IS trace_id AND source != 'frontend';
