-- Billing (seed 000's plans, subscriptions, usage_records; seed 001's billing service).
-- An organization without a subscription row is on the free plan, its period the calendar
-- month (UTC). Usage is written in the transaction of the action that caused it, once per
-- cause (unique source), so it equals exactly what happened and quotas read it without lag.

CREATE TABLE plans (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    code                VARCHAR(50)  NOT NULL UNIQUE,
    name                VARCHAR(100) NOT NULL,
    monthly_price_cents INTEGER      NOT NULL CHECK (monthly_price_cents >= 0),
    currency            CHAR(3)      NOT NULL DEFAULT 'USD',
    envelopes_per_month INTEGER CHECK (envelopes_per_month >= 0),  -- NULL: unlimited
    max_users           INTEGER CHECK (max_users >= 0),
    max_certificates    INTEGER CHECK (max_certificates >= 0),
    features            JSONB        NOT NULL DEFAULT '[]'::jsonb,
    stripe_price_id     VARCHAR(255),
    is_active           BOOLEAN      NOT NULL DEFAULT true,
    created_at          TIMESTAMPTZ  NOT NULL DEFAULT now()
);
INSERT INTO plans (code, name, monthly_price_cents, envelopes_per_month, max_users, max_certificates, features) VALUES
    ('free', 'Free', 0, 5, 3, 2, '["envelopes", "pades_b_t"]'),
    ('pro', 'Pro', 2900, 100, 10, 20, '["envelopes", "pades_b_t", "webhooks", "doc_packs"]'),
    ('business', 'Business', 9900, NULL, 50, 200, '["envelopes", "pades_b_t", "webhooks", "doc_packs", "sealed_envelopes"]');

CREATE TABLE subscriptions (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id        UUID NOT NULL UNIQUE REFERENCES organizations (id) ON DELETE CASCADE,
    plan_id                UUID NOT NULL REFERENCES plans (id),
    stripe_customer_id     VARCHAR(255),
    stripe_subscription_id VARCHAR(255) UNIQUE,
    status                 VARCHAR(20) NOT NULL DEFAULT 'active'
                           CHECK (status IN ('active', 'trialing', 'past_due', 'canceled', 'incomplete', 'unpaid')),
    current_period_start   TIMESTAMPTZ,
    current_period_end     TIMESTAMPTZ,
    pending_plan_id        UUID REFERENCES plans (id),   -- a downgrade, applied at period end
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER subscriptions_updated_at BEFORE UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE usage_records (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type            VARCHAR(50) NOT NULL CHECK (type IN ('envelope', 'signature', 'certificate')),
    quantity        INTEGER NOT NULL DEFAULT 1 CHECK (quantity > 0),
    unit_price      DECIMAL(10, 4),
    source_id       UUID NOT NULL,                -- the envelope, recipient or certificate
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (type, source_id)
);
CREATE INDEX usage_records_org_time_idx ON usage_records (organization_id, type, recorded_at);
