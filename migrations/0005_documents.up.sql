-- Documents (seed 000's table; seed 003's SHA-256 records, 7-year retention and legal hold;
-- seed 001's "documents AES-256 at rest": SSE-KMS on every stored object).
-- A row is declared by POST /v1/documents ('processing'), and the S3-triggered ingest makes
-- it 'ready' (hashed, inspected, converted) or 'failed' with a machine-readable reason.

CREATE TABLE documents (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id           UUID REFERENCES users (id) ON DELETE SET NULL,       -- uploader (a person)
    api_key_id        UUID REFERENCES api_keys (id) ON DELETE SET NULL,    -- or an API key
    name              VARCHAR(255) NOT NULL CHECK (length(btrim(name)) > 0),
    original_name     VARCHAR(255) NOT NULL,
    type              VARCHAR(10)  NOT NULL CHECK (type IN ('pdf', 'docx', 'xlsx')),  -- declared
    mime_type         VARCHAR(100) NOT NULL,   -- declared, then the detected type at ingest
    size              BIGINT       NOT NULL CHECK (size > 0),                -- declared bytes
    page_count        INTEGER CHECK (page_count > 0),
    pages             JSONB,                   -- [{"width","height","rotation"}] in points
    s3_key            VARCHAR(500) NOT NULL UNIQUE,
    s3_version_id     VARCHAR(1024),           -- the version that was ingested
    pdf_s3_key        VARCHAR(500),            -- the PDF to sign: the original, or the conversion
    pdf_s3_version_id VARCHAR(1024),
    status            VARCHAR(20)  NOT NULL DEFAULT 'processing'
                      CHECK (status IN ('processing', 'ready', 'failed')),
    failure_reason    VARCHAR(64),             -- stable code, e.g. pdf_encrypted
    failure_detail    TEXT,                    -- for people; never file contents
    hash              CHAR(64),                -- SHA-256 of the original (hex)
    pdf_hash          CHAR(64),                -- SHA-256 of the PDF to sign
    encrypted         BOOLEAN      NOT NULL DEFAULT true,
    metadata          JSONB        NOT NULL DEFAULT '{}'::jsonb,
    tags              TEXT[]       NOT NULL DEFAULT '{}',
    retention_until   TIMESTAMPTZ,
    legal_hold        BOOLEAN      NOT NULL DEFAULT false,
    processed_at      TIMESTAMPTZ,
    deleted_at        TIMESTAMPTZ,
    created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT documents_ready_is_complete CHECK (status <> 'ready' OR (
        hash IS NOT NULL AND pdf_hash IS NOT NULL AND page_count IS NOT NULL
        AND pdf_s3_key IS NOT NULL)),
    CONSTRAINT documents_failed_has_reason CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
);
-- The list route: one organization's live documents, newest first (keyset pagination).
CREATE INDEX documents_org_created_idx ON documents (organization_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX documents_org_status_idx ON documents (organization_id, status) WHERE deleted_at IS NULL;
CREATE INDEX documents_tags_idx ON documents USING GIN (tags);
CREATE INDEX documents_user_idx ON documents (user_id);
CREATE TRIGGER documents_updated_at BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The envelope that uses a document (seed 000). Only what deleting a document must respect is
-- created here; the envelopes issue adds the rest (recipients, fields, routing, evidence).
CREATE TABLE envelopes (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    document_id     UUID NOT NULL REFERENCES documents (id),
    name            VARCHAR(255),
    status          VARCHAR(20) NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'sent', 'completed', 'declined', 'voided', 'expired')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX envelopes_document_idx ON envelopes (document_id);
CREATE INDEX envelopes_organization_idx ON envelopes (organization_id);
CREATE TRIGGER envelopes_updated_at BEFORE UPDATE ON envelopes
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
