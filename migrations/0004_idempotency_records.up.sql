-- Idempotency records keyed by scope: `org:<id>` for authenticated callers, `ip:<address>`
-- for anonymous routes (register), which have no tenant yet. Replaces idempotency_keys,
-- which could only scope by organization. The stored response is replayed verbatim.
DROP TABLE idempotency_keys;

CREATE TABLE idempotency_records (
    scope            VARCHAR(100) NOT NULL,
    key              VARCHAR(255) NOT NULL,
    route            VARCHAR(100) NOT NULL,
    request_hash     CHAR(64) NOT NULL,
    status           VARCHAR(20) NOT NULL DEFAULT 'in_flight'
                     CHECK (status IN ('in_flight', 'completed')),
    response_status  SMALLINT,
    response_headers JSONB,
    response_body    BYTEA,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at       TIMESTAMPTZ NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_records_expiry_idx ON idempotency_records (expires_at);
