DROP TABLE envelope_events;
DROP TABLE signature_fields;
DROP TABLE recipients;
DROP INDEX envelopes_org_created_idx;
DROP INDEX envelopes_expiry_idx;
ALTER TABLE envelopes
    DROP CONSTRAINT envelopes_name_not_blank,
    DROP CONSTRAINT envelopes_sent_has_time,
    DROP CONSTRAINT envelopes_voided_has_reason,
    DROP COLUMN user_id, DROP COLUMN api_key_id, DROP COLUMN subject, DROP COLUMN message,
    DROP COLUMN routing_type, DROP COLUMN current_routing_order, DROP COLUMN expires_at,
    DROP COLUMN reminder_enabled, DROP COLUMN reminder_interval_days, DROP COLUMN reminder_max,
    DROP COLUMN signature_level, DROP COLUMN current_s3_key, DROP COLUMN current_s3_version_id,
    DROP COLUMN current_sha256, DROP COLUMN final_s3_key, DROP COLUMN certificate_s3_key,
    DROP COLUMN sent_at, DROP COLUMN completed_at, DROP COLUMN voided_at, DROP COLUMN void_reason,
    DROP COLUMN declined_at, DROP COLUMN expired_at, DROP COLUMN failure_reason,
    DROP COLUMN deleted_at;
