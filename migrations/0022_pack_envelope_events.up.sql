-- Doc packs follow their envelopes through announced evidence events (outbox kind
-- `envelope_event` -> the envelope-events queue -> sqs-track-pack-document) instead of the
-- envelopes area writing doc-pack tables. Messages may arrive twice or out of order: the
-- evidence sequence each row reflects makes applying one idempotent and never a step back.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('audit', 'email', 'webhook', 'usage', 'signing', 'envelope_event'));

-- The evidence sequence of the event that set `envelope_status` (0: none yet).
ALTER TABLE doc_instance ADD COLUMN envelope_sequence INTEGER NOT NULL DEFAULT 0;

-- The evidence sequence a sign event came from: one sign event per envelope event.
ALTER TABLE doc_sign_event ADD COLUMN envelope_sequence INTEGER;
UPDATE doc_sign_event SET envelope_sequence = (provider_payload ->> 'sequence')::integer;
CREATE UNIQUE INDEX doc_sign_event_sequence_idx ON doc_sign_event (doc_id, envelope_sequence);
UPDATE doc_instance i SET envelope_sequence = coalesce(
    (SELECT max(sequence) FROM envelope_events e WHERE e.envelope_id = i.envelope_id), 0)
  WHERE envelope_id IS NOT NULL;
