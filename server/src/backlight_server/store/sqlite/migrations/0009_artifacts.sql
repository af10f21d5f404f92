-- Backlight schema, version 9: source maps (issue 21). Uploaded files of a release
-- (artifacts: source maps and their scripts), named by (project, release, url) and found
-- by debug id; their bytes once per project and content hash (artifact_blobs), so a file
-- uploaded again under another release or name is not stored twice. Upload keys: only
-- the key's SHA-256 and a masked form are kept.

CREATE TABLE artifact_blobs (
    project_id  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    data        BLOB NOT NULL,
    created_ms  REAL NOT NULL
);
CREATE UNIQUE INDEX artifact_blobs_key ON artifact_blobs (project_id, sha256);

CREATE TABLE artifacts (
    project_id  TEXT NOT NULL,
    release     TEXT NOT NULL,
    url         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    debug_id    TEXT,
    ref         TEXT,
    uploaded_ms REAL NOT NULL,
    PRIMARY KEY (project_id, release, url)
) WITHOUT ROWID;
CREATE INDEX artifacts_debug_id ON artifacts (project_id, debug_id, kind, uploaded_ms)
    WHERE debug_id IS NOT NULL;
CREATE INDEX artifacts_blob ON artifacts (project_id, sha256);

CREATE TABLE upload_keys (
    key_hash    TEXT PRIMARY KEY,
    id          TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    masked      TEXT NOT NULL,
    created_ms  REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX upload_keys_project ON upload_keys (project_id, created_ms);
