-- Accounts and tenancy (seeds 000, 001, 004): users, sessions with rotating refresh tokens,
-- API keys, one-time tokens, the transactional outbox and idempotency records. Every secret
-- is stored as a SHA-256 hash (tokens, keys) or an argon2id hash (passwords), never in clear.

CREATE TABLE users (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email             VARCHAR(255) NOT NULL,
    password_hash     VARCHAR(255),            -- NULL until an invited user sets one
    first_name        VARCHAR(100),
    last_name         VARCHAR(100),
    role              VARCHAR(20) NOT NULL DEFAULT 'member'
                      CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    status            VARCHAR(20) NOT NULL DEFAULT 'active'
                      CHECK (status IN ('invited', 'active', 'disabled')),
    email_verified_at TIMESTAMPTZ,
    last_login_at     TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One account per address, whatever its case.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_organization_idx ON users (organization_id);
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A login session: one refresh-token family. Each refresh rotates the token (a new row with
-- the same family); presenting a rotated-away token again revokes the whole family.
CREATE TABLE user_sessions (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    family_id          UUID NOT NULL,
    refresh_token_hash CHAR(64) NOT NULL UNIQUE,
    rotated_at         TIMESTAMPTZ,            -- set when this token was exchanged
    expires_at         TIMESTAMPTZ NOT NULL,
    revoked_at         TIMESTAMPTZ,
    ip_address         INET,
    user_agent         TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX user_sessions_family_idx ON user_sessions (family_id);

CREATE TABLE api_keys (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    name            VARCHAR(100) NOT NULL CHECK (length(btrim(name)) > 0),
    prefix          VARCHAR(16) NOT NULL UNIQUE,    -- shown in lists, used for lookup
    key_hash        CHAR(64) NOT NULL,              -- SHA-256 of the whole key
    -- The role the key acts with: its creator's at creation; scopes narrow it further.
    role            VARCHAR(20) NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    scopes          TEXT[] NOT NULL DEFAULT '{}',
    last_used_at    TIMESTAMPTZ,
    expires_at      TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_organization_idx ON api_keys (organization_id);

-- Email verification, password reset and invitation tokens: single use, expiring.
CREATE TABLE account_tokens (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    purpose         VARCHAR(20) NOT NULL
                    CHECK (purpose IN ('verify_email', 'password_reset', 'invitation')),
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token_hash      CHAR(64) NOT NULL UNIQUE,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- Transactional outbox: side effects written with the state change, relayed to SQS after
-- commit; a sweeper republishes rows left unpublished. `id` is the stable event id.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID REFERENCES organizations (id) ON DELETE SET NULL,
    kind            VARCHAR(20) NOT NULL CHECK (kind IN ('audit', 'email', 'webhook', 'usage')),
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at    TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished_idx ON outbox (created_at) WHERE published_at IS NULL;

-- Idempotency-Key records (IETF httpapi draft): per tenant and key, the request's fingerprint
-- and the stored response; kept at least 24 hours.
CREATE TABLE idempotency_keys (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key             VARCHAR(255) NOT NULL,
    route           VARCHAR(100) NOT NULL,
    request_hash    CHAR(64) NOT NULL,
    status          VARCHAR(20) NOT NULL DEFAULT 'in_flight'
                    CHECK (status IN ('in_flight', 'completed')),
    response_status SMALLINT,
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
