-- Envelopes (seed 000's envelopes, recipients, signature_fields; seed 001's signing flow;
-- seed 003's signer evidence log). 0005 created the minimal envelopes table documents need;
-- this completes it.

ALTER TABLE envelopes
    ADD COLUMN user_id                UUID REFERENCES users (id) ON DELETE SET NULL,    -- sender
    ADD COLUMN api_key_id             UUID REFERENCES api_keys (id) ON DELETE SET NULL, -- or a key
    ADD COLUMN subject                VARCHAR(255),
    ADD COLUMN message                TEXT,
    ADD COLUMN routing_type           VARCHAR(20) NOT NULL DEFAULT 'sequential'
                                      CHECK (routing_type IN ('sequential', 'parallel')),
    ADD COLUMN current_routing_order  INTEGER CHECK (current_routing_order > 0),
    ADD COLUMN expires_at             TIMESTAMPTZ,
    ADD COLUMN reminder_enabled       BOOLEAN NOT NULL DEFAULT true,
    ADD COLUMN reminder_interval_days INTEGER NOT NULL DEFAULT 3
                                      CHECK (reminder_interval_days BETWEEN 1 AND 30),
    ADD COLUMN reminder_max           INTEGER NOT NULL DEFAULT 3 CHECK (reminder_max BETWEEN 0 AND 10),
    -- PAdES level: 'b_t' (a trusted timestamp, the default) or 'b_b' (no timestamp).
    ADD COLUMN signature_level        VARCHAR(5) NOT NULL DEFAULT 'b_t'
                                      CHECK (signature_level IN ('b_t', 'b_b')),
    -- The document as prepared at send, then after each signer: the current revision.
    ADD COLUMN current_s3_key         VARCHAR(500),
    ADD COLUMN current_s3_version_id  VARCHAR(1024),
    ADD COLUMN current_sha256         CHAR(64),
    ADD COLUMN final_s3_key           VARCHAR(500),
    ADD COLUMN certificate_s3_key     VARCHAR(500),
    ADD COLUMN sent_at                TIMESTAMPTZ,
    ADD COLUMN completed_at           TIMESTAMPTZ,
    ADD COLUMN voided_at              TIMESTAMPTZ,
    ADD COLUMN void_reason            TEXT,
    ADD COLUMN declined_at            TIMESTAMPTZ,
    ADD COLUMN expired_at             TIMESTAMPTZ,
    ADD COLUMN failure_reason         TEXT,
    ADD COLUMN deleted_at             TIMESTAMPTZ,
    ADD CONSTRAINT envelopes_name_not_blank CHECK (name IS NULL OR length(btrim(name)) > 0),
    ADD CONSTRAINT envelopes_sent_has_time CHECK (status = 'draft' OR sent_at IS NOT NULL),
    ADD CONSTRAINT envelopes_voided_has_reason CHECK (status <> 'voided' OR void_reason IS NOT NULL);
CREATE INDEX envelopes_org_created_idx ON envelopes (organization_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX envelopes_expiry_idx ON envelopes (expires_at) WHERE status = 'sent';

CREATE TABLE recipients (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    envelope_id         UUID NOT NULL REFERENCES envelopes (id) ON DELETE CASCADE,
    organization_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email               VARCHAR(255) NOT NULL CHECK (position('@' in email) > 1),
    name                VARCHAR(255) NOT NULL CHECK (length(btrim(name)) > 0),
    role                VARCHAR(20)  NOT NULL DEFAULT 'signer'
                        CHECK (role IN ('signer', 'approver', 'viewer', 'cc')),
    routing_order       INTEGER      NOT NULL DEFAULT 1 CHECK (routing_order BETWEEN 1 AND 100),
    status              VARCHAR(20)  NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'viewed', 'signed', 'declined')),
    auth_method         VARCHAR(20)  NOT NULL DEFAULT 'email'
                        CHECK (auth_method IN ('email', 'access_code')),
    access_code_hash    TEXT,        -- Argon2id; never the code
    access_code_failures INTEGER     NOT NULL DEFAULT 0,
    locked_until        TIMESTAMPTZ,
    access_verified_until TIMESTAMPTZ,  -- the code was given; good for one hour
    signing_token_hash  CHAR(64) UNIQUE,  -- SHA-256 of a >= 128-bit token
    consented_at        TIMESTAMPTZ,
    disclosure_version  VARCHAR(32),
    viewed_at           TIMESTAMPTZ,
    signed_at           TIMESTAMPTZ,
    declined_at         TIMESTAMPTZ,
    decline_reason      TEXT,
    last_ip             VARCHAR(64),
    last_user_agent     TEXT,
    notified_at         TIMESTAMPTZ,  -- the newest signing link went out
    reminders_sent      INTEGER      NOT NULL DEFAULT 0,
    last_reminded_at    TIMESTAMPTZ,
    created_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT recipients_code_when_required
        CHECK (auth_method <> 'access_code' OR access_code_hash IS NOT NULL),
    CONSTRAINT recipients_declined_has_reason
        CHECK (status <> 'declined' OR decline_reason IS NOT NULL)
);
CREATE UNIQUE INDEX recipients_email_per_envelope ON recipients (envelope_id, lower(email), role);
CREATE INDEX recipients_envelope_idx ON recipients (envelope_id, routing_order);
CREATE TRIGGER recipients_updated_at BEFORE UPDATE ON recipients
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE signature_fields (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    envelope_id     UUID NOT NULL REFERENCES envelopes (id) ON DELETE CASCADE,
    recipient_id    UUID NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
    type            VARCHAR(20) NOT NULL
                    CHECK (type IN ('signature', 'initial', 'text', 'date', 'checkbox')),
    label           VARCHAR(255),
    page_number     INTEGER NOT NULL CHECK (page_number > 0),
    -- Points from the top-left corner of the page as displayed (rotation applied).
    x               NUMERIC(10, 2) NOT NULL CHECK (x >= 0),
    y               NUMERIC(10, 2) NOT NULL CHECK (y >= 0),
    width           NUMERIC(10, 2) NOT NULL CHECK (width > 0),
    height          NUMERIC(10, 2) NOT NULL CHECK (height > 0),
    required        BOOLEAN NOT NULL DEFAULT true,
    value           TEXT,
    signed_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX signature_fields_envelope_idx ON signature_fields (envelope_id);
CREATE INDEX signature_fields_recipient_idx ON signature_fields (recipient_id);

-- The evidence trail: one row per transition, written in the transaction of the change, each
-- carrying the SHA-256 of the previous row of the same envelope (a hash chain: editing or
-- removing a row breaks every later hash).
CREATE TABLE envelope_events (
    envelope_id     UUID        NOT NULL REFERENCES envelopes (id) ON DELETE CASCADE,
    sequence        INTEGER     NOT NULL CHECK (sequence > 0),
    organization_id UUID        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    action          VARCHAR(64) NOT NULL,
    actor_type      VARCHAR(16) NOT NULL CHECK (actor_type IN ('user', 'api_key', 'recipient', 'system')),
    actor_id        UUID,
    recipient_id    UUID,        -- a fact, not a reference: evidence rows never change
    ip              VARCHAR(64),
    user_agent      TEXT,
    details         JSONB       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at     TIMESTAMPTZ NOT NULL,
    previous_hash   CHAR(64)    NOT NULL,
    hash            CHAR(64)    NOT NULL,
    PRIMARY KEY (envelope_id, sequence)
);
CREATE INDEX envelope_events_org_idx ON envelope_events (organization_id, occurred_at);
