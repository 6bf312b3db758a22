-- The current CRL of each organization CA (RFC 5280 section 5), signed in the HSM: issued at
-- every revocation, at every completion that embeds it (B-LT), and by the schedule before the
-- last one's nextUpdate; the same bytes are published where the CA's certificates point
-- (their CRL distribution point). crl_number only grows: it comes from a sequence, which
-- never hands out a number twice, even to a transaction that rolled back after its CRL was
-- published.
CREATE SEQUENCE crl_numbers;
CREATE TABLE revocation_lists (
    authority_id     UUID PRIMARY KEY REFERENCES certificates (id) ON DELETE CASCADE,
    organization_id  UUID        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    crl_number       BIGINT      NOT NULL CHECK (crl_number > 0),
    this_update      TIMESTAMPTZ NOT NULL,
    next_update      TIMESTAMPTZ NOT NULL CHECK (next_update > this_update),
    der              BYTEA,
    -- When these bytes were stored where the distribution point names; NULL: still to do.
    published_at     TIMESTAMPTZ
);
CREATE INDEX revocation_lists_this_update_idx ON revocation_lists (this_update);

-- B-LT (a document security store with every certificate and CRL) and B-LTA (a document
-- timestamp over it) at completion; B-LTA is the default, so what GSign keeps for 7 years
-- stays verifiable after its certificates expire.
ALTER TABLE envelopes DROP CONSTRAINT envelopes_signature_level_check;
ALTER TABLE envelopes ALTER COLUMN signature_level SET DEFAULT 'b_lta',
    ADD CONSTRAINT envelopes_signature_level_check
        CHECK (signature_level IN ('b_b', 'b_t', 'b_lt', 'b_lta'));

-- Archive timestamp renewal (PAdES B-LTA): when the last document timestamp's authority
-- certificate ends, a fresh DSS and document timestamp must be in the file before it; the
-- schedule renews those within its window, and records each attempt so a failing one waits a
-- day before the next.
ALTER TABLE envelopes
    ADD COLUMN archive_expires_at       TIMESTAMPTZ,
    ADD COLUMN archive_renewal_tried_at TIMESTAMPTZ,
    ADD COLUMN archive_renewal_error    TEXT;
CREATE INDEX envelopes_archive_expiry_idx ON envelopes (archive_expires_at)
    WHERE status = 'completed' AND archive_expires_at IS NOT NULL;
