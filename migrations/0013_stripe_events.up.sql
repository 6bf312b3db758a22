-- Stripe webhook events, each applied once (by event id), and the time of the newest event
-- applied to a subscription, so an older event arriving late changes nothing.

CREATE TABLE stripe_events (
    id              VARCHAR(255) PRIMARY KEY,        -- evt_…
    type            VARCHAR(100) NOT NULL,
    organization_id UUID REFERENCES organizations (id) ON DELETE SET NULL,
    outcome         VARCHAR(50)  NOT NULL,            -- applied, stale, ignored, unknown_*
    created_at      TIMESTAMPTZ  NOT NULL,            -- the event's `created`
    received_at     TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_org_idx ON stripe_events (organization_id, received_at DESC);

ALTER TABLE subscriptions ADD COLUMN last_event_at TIMESTAMPTZ;

-- The Stripe prices of the paid plans (each deployment sets its own account's ids).
UPDATE plans SET stripe_price_id = 'price_gsign_pro_monthly' WHERE code = 'pro';
UPDATE plans SET stripe_price_id = 'price_gsign_business_monthly' WHERE code = 'business';
