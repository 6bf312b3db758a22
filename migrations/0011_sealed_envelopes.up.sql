-- Sealed envelopes (seed 002): prompts, the envelopes sealed from them (or imported from a
-- sender elsewhere), every attempt to open one, and the registry of the keys involved.
-- Seed 002's `envelopes` table is `sealed_envelopes` here, apart from signing envelopes.
-- Seed 002's `audit_logs` are the platform's audit events (outbox -> audit_events).

CREATE TABLE cryptographic_keys (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id      UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key_id               VARCHAR(255) NOT NULL,      -- the name envelopes carry
    key_type             VARCHAR(50)  NOT NULL CHECK (key_type IN ('encryption', 'signing')),
    key_algorithm        VARCHAR(50)  NOT NULL,      -- RSA-2048, RSA-3072, RSA-4096
    key_usage            VARCHAR(50)  NOT NULL CHECK (key_usage IN ('sender', 'receiver')),
    service_name         VARCHAR(100) NOT NULL,      -- who holds it: gsign, or the party's name
    key_storage_location VARCHAR(255) NOT NULL,      -- hsm:<CKA_ID hex> | kms:<key arn> | external
    public_key_der       BYTEA        NOT NULL,      -- SubjectPublicKeyInfo
    public_key_hash      CHAR(64)     NOT NULL,      -- SHA-256 of public_key_der
    status               VARCHAR(50)  NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'rotated', 'revoked')),
    replaced_by          UUID REFERENCES cryptographic_keys (id),
    revoked_reason       TEXT,
    rotated_at           TIMESTAMPTZ,
    revoked_at           TIMESTAMPTZ,
    expires_at           TIMESTAMPTZ,
    created_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    UNIQUE (organization_id, key_id)
);
CREATE INDEX cryptographic_keys_status_idx ON cryptographic_keys (organization_id, status);
CREATE INDEX cryptographic_keys_type_idx ON cryptographic_keys (key_type, key_usage);
CREATE TRIGGER cryptographic_keys_updated_at BEFORE UPDATE ON cryptographic_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE prompts (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    prompt_text     TEXT NOT NULL,
    prompt_metadata JSONB,
    secret_hash     VARCHAR(255) NOT NULL,           -- SHA-256 of prompt_text (lookup)
    status          VARCHAR(50) NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'archived', 'deleted')),
    version         INTEGER NOT NULL DEFAULT 1,      -- optimistic locking
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ,
    created_by      VARCHAR(255),
    updated_by      VARCHAR(255)
);
CREATE INDEX idx_prompts_status ON prompts (organization_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_prompts_created_at ON prompts (organization_id, created_at DESC, id DESC);
CREATE INDEX idx_prompts_secret_hash ON prompts (secret_hash);
CREATE INDEX idx_prompts_deleted_at ON prompts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX idx_prompts_text_search ON prompts USING gin (to_tsvector('simple', prompt_text));
CREATE TRIGGER prompts_updated_at BEFORE UPDATE ON prompts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE sealed_envelopes (
    id                     UUID PRIMARY KEY,         -- the wire format's id
    organization_id        UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    prompt_id              UUID REFERENCES prompts (id) ON DELETE SET NULL,  -- NULL: imported
    encrypted_data         TEXT NOT NULL,            -- base64, as on the wire
    encrypted_key          TEXT NOT NULL,
    signature              TEXT NOT NULL,
    iv                     TEXT NOT NULL,
    auth_tag               TEXT NOT NULL,
    algorithm              VARCHAR(50) NOT NULL DEFAULT 'AES-256-GCM',
    key_algorithm          VARCHAR(50) NOT NULL DEFAULT 'RSA-OAEP-256',
    signature_algorithm    VARCHAR(50) NOT NULL DEFAULT 'RSA-PSS-SHA256',
    receiver_public_key_id VARCHAR(255) NOT NULL,
    sender_private_key_id  VARCHAR(255) NOT NULL,
    metadata               JSONB NOT NULL DEFAULT '{}'::jsonb,
    expires_at             TIMESTAMPTZ,
    status                 VARCHAR(50) NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'delivered', 'decrypted', 'expired')),
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at             TIMESTAMPTZ
);
CREATE INDEX idx_sealed_envelopes_prompt_id ON sealed_envelopes (prompt_id);
CREATE INDEX idx_sealed_envelopes_status ON sealed_envelopes (organization_id, status) WHERE deleted_at IS NULL;
CREATE INDEX idx_sealed_envelopes_created_at ON sealed_envelopes (organization_id, created_at DESC);
CREATE INDEX idx_sealed_envelopes_expires_at ON sealed_envelopes (expires_at) WHERE expires_at IS NOT NULL;
CREATE TRIGGER sealed_envelopes_updated_at BEFORE UPDATE ON sealed_envelopes
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Kept 7 years, longer than the envelopes they are about (1 year after expiry): no foreign
-- key, so purging an envelope keeps its log.
CREATE TABLE envelope_decryptions (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    envelope_id           UUID NOT NULL,
    decrypted_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    signature_verified    BOOLEAN NOT NULL,
    decryption_successful BOOLEAN NOT NULL,
    error_message         TEXT,                      -- the failure's stable reason
    decrypted_by          VARCHAR(255) NOT NULL,     -- user or API key
    ip_address            INET,
    user_agent            TEXT,
    metadata              JSONB
);
CREATE INDEX idx_decryptions_envelope_id ON envelope_decryptions (envelope_id);
CREATE INDEX idx_decryptions_decrypted_at ON envelope_decryptions (decrypted_at DESC);
CREATE INDEX idx_decryptions_success ON envelope_decryptions (decryption_successful, signature_verified);
CREATE INDEX idx_decryptions_decrypted_by ON envelope_decryptions (decrypted_by);
