DELETE FROM outbox WHERE kind = 'signing';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('audit', 'email', 'webhook', 'usage'));
ALTER TABLE envelopes
    DROP CONSTRAINT envelopes_completed_is_complete,
    DROP COLUMN revision_count, DROP COLUMN final_s3_version_id, DROP COLUMN final_sha256,
    DROP COLUMN certificate_s3_version_id, DROP COLUMN certificate_sha256,
    DROP COLUMN processing_error, DROP COLUMN processing_failed_at, DROP COLUMN processing_attempts;
DROP INDEX recipients_to_apply_idx;
UPDATE recipients SET status = 'signed' WHERE status = 'approved';
ALTER TABLE recipients
    DROP CONSTRAINT recipients_signed_has_signature,
    DROP CONSTRAINT recipients_applied_is_complete,
    DROP COLUMN signature_kind, DROP COLUMN signature_png, DROP COLUMN signature_text,
    DROP COLUMN applied_at, DROP COLUMN revision, DROP COLUMN revision_sha256;
ALTER TABLE recipients DROP CONSTRAINT recipients_status_check;
ALTER TABLE recipients ADD CONSTRAINT recipients_status_check
    CHECK (status IN ('pending', 'sent', 'viewed', 'signed', 'declined'));
