-- The signing itself (seed 001's signing flow): what each recipient submitted, the revision
-- the signing worker made of it, the final and certificate documents, and the worker's
-- failures (visible on the envelope, never silent).

ALTER TABLE recipients DROP CONSTRAINT recipients_status_check;
ALTER TABLE recipients
    -- 'approved': an approver's act, which needs no signature.
    ADD CONSTRAINT recipients_status_check
        CHECK (status IN ('pending', 'sent', 'viewed', 'signed', 'approved', 'declined')),
    ADD COLUMN signature_kind    VARCHAR(10) CHECK (signature_kind IN ('drawn', 'typed')),
    ADD COLUMN signature_png     BYTEA,          -- the drawing as submitted
    ADD COLUMN signature_text    VARCHAR(255),   -- the typed name, or the drawing's name
    -- The worker put the signature in the PDF: its revision number and SHA-256.
    ADD COLUMN applied_at        TIMESTAMPTZ,
    ADD COLUMN revision          INTEGER CHECK (revision > 0),
    ADD COLUMN revision_sha256   CHAR(64),
    ADD CONSTRAINT recipients_signed_has_signature
        CHECK (status <> 'signed' OR role <> 'signer' OR (signed_at IS NOT NULL AND signature_kind IS NOT NULL)),
    ADD CONSTRAINT recipients_applied_is_complete
        CHECK (applied_at IS NULL OR (revision IS NOT NULL AND revision_sha256 IS NOT NULL));
-- What the signing worker looks for: signatures submitted and not yet in the PDF.
CREATE INDEX recipients_to_apply_idx ON recipients (envelope_id, signed_at)
    WHERE status = 'signed' AND applied_at IS NULL;

ALTER TABLE envelopes
    ADD COLUMN revision_count             INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN final_s3_version_id        VARCHAR(1024),
    ADD COLUMN final_sha256               CHAR(64),
    ADD COLUMN certificate_s3_version_id  VARCHAR(1024),
    ADD COLUMN certificate_sha256         CHAR(64),
    -- The signing worker's newest failure while the envelope is out (cleared by progress).
    ADD COLUMN processing_error           TEXT,
    ADD COLUMN processing_failed_at       TIMESTAMPTZ,
    ADD COLUMN processing_attempts        INTEGER NOT NULL DEFAULT 0,
    ADD CONSTRAINT envelopes_completed_is_complete CHECK (status <> 'completed' OR (
        completed_at IS NOT NULL AND final_s3_key IS NOT NULL AND final_sha256 IS NOT NULL
        AND certificate_s3_key IS NOT NULL AND certificate_sha256 IS NOT NULL));

-- Signing jobs leave through the outbox too, so a committed signature always reaches the worker.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('audit', 'email', 'webhook', 'usage', 'signing'));
