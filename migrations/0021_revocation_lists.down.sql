DROP INDEX envelopes_archive_expiry_idx;
ALTER TABLE envelopes DROP COLUMN archive_expires_at, DROP COLUMN archive_renewal_tried_at,
    DROP COLUMN archive_renewal_error;
UPDATE envelopes SET signature_level = 'b_t' WHERE signature_level IN ('b_lt', 'b_lta');
ALTER TABLE envelopes DROP CONSTRAINT envelopes_signature_level_check;
ALTER TABLE envelopes ALTER COLUMN signature_level SET DEFAULT 'b_t',
    ADD CONSTRAINT envelopes_signature_level_check CHECK (signature_level IN ('b_t', 'b_b'));
DROP TABLE revocation_lists;
DROP SEQUENCE crl_numbers;
