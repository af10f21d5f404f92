-- Backlight schema, version 2: log bodies are added to logs_fts by the writer, one
-- INSERT … SELECT per batch (writes.INDEX_NEW_LOGS), instead of a row trigger.
-- The row trigger fired FTS5's per-statement savepoint work once per log row, which
-- inside the writer's per-job SAVEPOINT made a log insert about 3x dearer; the bulk
-- statement indexes the same rows at a fraction of the cost. Deletes keep their trigger.

DROP TRIGGER logs_fts_insert;

-- Rows written by a version-1 server are already indexed by the trigger, so nothing
-- needs back-filling.
