DROP TABLE idempotency_records;

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
