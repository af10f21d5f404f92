-- Backlight schema, version 15 (issue 24): a session's requests seen by the server.
--
-- The session page lists the requests its backend saw and the browser did not record
-- (store/sqlite/serverseen.py): the request ids of the session's spans that are server
-- spans (kind 2) or carry a request id other than their trace id. This partial index holds
-- only those spans, by session and request id, with the times the page reads and the
-- columns of its own WHERE terms (covering: SQLite checks those terms again), so the read
-- never visits the table: a session of 5,000 requests costs a few milliseconds, not a row
-- lookup each. IF NOT EXISTS: a test that winds the version back applies it again.
-- (Number 14 is taken by another change made at the same time.)

CREATE INDEX IF NOT EXISTS spans_session_requests
    ON spans(session_id, request_id, start_ns, end_ns, kind, trace_id)
    WHERE session_id IS NOT NULL AND (kind = 2 OR request_id != trace_id);
