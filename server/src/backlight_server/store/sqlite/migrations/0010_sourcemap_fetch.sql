-- Backlight schema, version 10: the source-map fetch path's per-project settings
-- (issue 21): whether the server may fetch a frame's script and map, and from which
-- origins (a JSON array of normalised origins). No row: off.

CREATE TABLE sourcemap_fetch (
    project_id  TEXT PRIMARY KEY,
    enabled     INTEGER NOT NULL,
    origins     TEXT NOT NULL,
    updated_ms  REAL NOT NULL
) WITHOUT ROWID;
