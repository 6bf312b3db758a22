ALTER TABLE envelopes
    DROP COLUMN processing_error_permanent,
    DROP COLUMN retention_applied_at;
