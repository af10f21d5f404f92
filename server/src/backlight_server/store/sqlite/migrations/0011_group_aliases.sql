-- Backlight schema, version 11: error-group aliases (issue 21). A frontend group that a
-- source map merges into the group of its original frames (docs/sourcemaps.md,
-- "Grouping") leaves its old id here, so old links (alert messages, bookmarks) still
-- open, and errors that still arrive with the old fingerprint join the new group. Kept
-- flat: when a target is merged again, the aliases that named it name the new one.

CREATE TABLE group_aliases (
    old_id      INTEGER PRIMARY KEY,
    project_id  TEXT NOT NULL,
    new_id      INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    merged_ms   REAL NOT NULL
);
CREATE INDEX group_aliases_new ON group_aliases (new_id);
