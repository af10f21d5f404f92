-- Backlight schema, version 8: group resolutions recorded at commit (issue 20), so the
-- alert evaluator can send PagerDuty's resolve for the incidents a group triggered. One
-- row per resolve (the UI or PATCH /api/v1/error-groups/{id}); the id is commit order
-- (one writer), which the evaluator's cursor "#resolved" follows.

CREATE TABLE group_resolutions (
    id          INTEGER PRIMARY KEY,
    project_id  TEXT NOT NULL,
    group_id    INTEGER NOT NULL,
    at_ms       REAL NOT NULL
);
