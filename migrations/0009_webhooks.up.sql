-- Webhook endpoints (seed 001's webhook delivery; the delivery log itself is DynamoDB's
-- webhook_deliveries, seed 000). Secrets are stored encrypted by KMS, never in the clear.

CREATE TABLE webhook_endpoints (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url             TEXT NOT NULL CHECK (length(url) BETWEEN 9 AND 2048),
    description     VARCHAR(255),
    -- Event types delivered; empty = every type.
    event_types     TEXT[] NOT NULL DEFAULT '{}',
    active          BOOLEAN NOT NULL DEFAULT true,
    disabled_reason TEXT,
    disabled_at     TIMESTAMPTZ,
    -- The first failed attempt since the last success: three days of failures disable it.
    failing_since   TIMESTAMPTZ,
    created_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ,
    CONSTRAINT webhook_endpoints_disabled_has_reason
        CHECK (active OR disabled_reason IS NOT NULL)
);
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (organization_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE TRIGGER webhook_endpoints_updated_at BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE webhook_secrets (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- KMS ciphertext of the key bytes, bound to the endpoint by the encryption context.
    ciphertext  BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- NULL: current. A rotated-out secret keeps signing until then (two active at most).
    expires_at  TIMESTAMPTZ
);
CREATE INDEX webhook_secrets_endpoint_idx ON webhook_secrets (endpoint_id, created_at DESC);
