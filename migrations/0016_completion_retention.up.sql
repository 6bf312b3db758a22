-- Completion applies Object Lock retention after its transaction commits (a failed commit
-- must not leave 7-year locked orphans); until it is applied, the resume schedule retries it.
ALTER TABLE envelopes
    ADD COLUMN retention_applied_at       TIMESTAMPTZ,
    -- The last failure cannot heal by retrying (the resume schedule leaves it alone).
    ADD COLUMN processing_error_permanent BOOLEAN NOT NULL DEFAULT false;
-- Envelopes completed before this release had their retention applied before the commit.
UPDATE envelopes SET retention_applied_at = completed_at WHERE status = 'completed';
