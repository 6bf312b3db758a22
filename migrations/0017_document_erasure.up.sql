-- A deleted document's bytes are erased after the deletion commits; until this is set, the
-- erase schedule tries again (S3 may fail right after the commit).
ALTER TABLE documents ADD COLUMN bytes_erased_at TIMESTAMPTZ;
CREATE INDEX documents_erasure_due_idx ON documents (deleted_at)
    WHERE deleted_at IS NOT NULL AND bytes_erased_at IS NULL;
