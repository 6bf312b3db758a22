-- Certificates (seed 000's table, seed 001's HSM backend): every private key lives in the HSM
-- (hsm_key_id is its CKA_ID, hex); the database keeps the public half, the certificate and
-- its chain. Besides people's signing certificates ('signing'), each organization has its own
-- CA ('ca', created on first use) and a platform seal certificate ('seal') that closes
-- completed envelopes; those two belong to no user.
CREATE TABLE certificates (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id               UUID REFERENCES users (id) ON DELETE CASCADE,
    purpose               VARCHAR(10)  NOT NULL DEFAULT 'signing'
                          CHECK (purpose IN ('signing', 'ca', 'seal')),
    label                 VARCHAR(255) NOT NULL CHECK (length(btrim(label)) > 0),
    type                  VARCHAR(50)  NOT NULL
                          CHECK (type IN ('self_signed', 'ca_issued', 'eidas', 'corporate')),
    -- pending: a CSR waits for its CA's certificate (PUT .../chain).
    status                VARCHAR(20)  NOT NULL DEFAULT 'active'
                          CHECK (status IN ('pending', 'active', 'revoked')),
    is_default            BOOLEAN      NOT NULL DEFAULT false,
    serial_number         VARCHAR(100),
    subject_dn            TEXT         NOT NULL,
    subject_cn            VARCHAR(255),
    issuer_cn             VARCHAR(255),
    valid_from            TIMESTAMPTZ,
    valid_to              TIMESTAMPTZ,
    key_type              VARCHAR(20)  NOT NULL CHECK (key_type IN ('RSA', 'EC')),
    key_size              INTEGER      NOT NULL CHECK (key_size IN (256, 2048, 3072)),
    signature_scheme      VARCHAR(30)  NOT NULL
                          CHECK (signature_scheme IN ('rsa-pss-sha256', 'rsa-pkcs1-sha256', 'ecdsa-sha256')),
    usage_count           INTEGER      NOT NULL DEFAULT 0,
    last_used_at          TIMESTAMPTZ,
    hsm_key_id            VARCHAR(255) NOT NULL UNIQUE,
    public_key            BYTEA        NOT NULL,              -- DER SubjectPublicKeyInfo
    certificate           BYTEA,                              -- DER; NULL while pending
    chain                 BYTEA[]      NOT NULL DEFAULT '{}', -- the issuers, leaf's issuer first
    csr_pem               TEXT,
    revoked_at            TIMESTAMPTZ,
    revocation_reason     VARCHAR(64),
    created_at            TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT certificates_people_sign CHECK ((purpose = 'signing') = (user_id IS NOT NULL)),
    CONSTRAINT certificates_issued_are_complete CHECK (status = 'pending' OR (
        certificate IS NOT NULL AND valid_from IS NOT NULL AND valid_to IS NOT NULL
        AND serial_number IS NOT NULL)),
    CONSTRAINT certificates_revoked_when CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CONSTRAINT certificates_default_is_active CHECK (NOT is_default OR status = 'active')
);
CREATE INDEX certificates_user_idx ON certificates (user_id);
CREATE INDEX certificates_org_created_idx ON certificates (organization_id, created_at DESC, id DESC);
-- One default signing certificate per person; one live CA and one live seal per organization.
CREATE UNIQUE INDEX certificates_one_default ON certificates (user_id) WHERE is_default;
CREATE UNIQUE INDEX certificates_one_authority ON certificates (organization_id, purpose)
    WHERE purpose IN ('ca', 'seal') AND status = 'active';
CREATE TRIGGER certificates_updated_at BEFORE UPDATE ON certificates
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
