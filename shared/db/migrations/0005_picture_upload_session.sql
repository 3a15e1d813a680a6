-- Batch import: a picture posted by upload-picture remembers the session (folder) it was
-- posted into, so that the same bytes posted twice into one session are stored once, even
-- when the two posts race. Pictures stored by an inference leave it NULL: never deduplicated.
-- The session id is kept when a picture moves to the archive, where it cannot collide.
ALTER TABLE picture ADD COLUMN upload_session_id uuid;
CREATE UNIQUE INDEX picture_upload_session_sha256_key ON picture (upload_session_id, sha256)
    WHERE upload_session_id IS NOT NULL;
