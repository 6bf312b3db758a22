DROP INDEX doc_sign_event_sequence_idx;
ALTER TABLE doc_sign_event DROP COLUMN envelope_sequence;
ALTER TABLE doc_instance DROP COLUMN envelope_sequence;
DELETE FROM outbox WHERE kind = 'envelope_event';
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('audit', 'email', 'webhook', 'usage', 'signing'));
