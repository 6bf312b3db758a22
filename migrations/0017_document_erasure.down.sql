DROP INDEX IF EXISTS documents_erasure_due_idx;
ALTER TABLE documents DROP COLUMN bytes_erased_at;
