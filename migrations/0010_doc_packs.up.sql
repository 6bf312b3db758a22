-- Clause library, document templates and document packs (seed 003), scoped to the
-- organization. Seed 003's marketplace booking leg is an external reference the caller gives
-- (a deal or order id). Each version of a clause or template is its own row (its own id);
-- rows are never edited except to publish or deactivate them.

CREATE TABLE doc_clause (
    clause_id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            VARCHAR(200) NOT NULL CHECK (length(btrim(name)) > 0),
    version         INTEGER NOT NULL CHECK (version > 0),
    city_gate       TEXT[],                    -- allowed city codes (NULL: everywhere)
    role_gate       TEXT[],                    -- signer roles it is for (NULL: everyone)
    is_active       BOOLEAN NOT NULL DEFAULT true,
    body_markdown   TEXT NOT NULL,
    variables_json  JSONB NOT NULL,            -- JSON Schema of the variables it needs
    created_by      TEXT NOT NULL,             -- user or API key id
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at    TIMESTAMPTZ,               -- set once; the version is then what packs use
    UNIQUE (organization_id, name, version)
);
CREATE INDEX doc_clause_org_name_idx ON doc_clause (organization_id, name, version DESC);

CREATE TABLE doc_template (
    template_id     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            VARCHAR(200) NOT NULL CHECK (length(btrim(name)) > 0),
    version         INTEGER NOT NULL CHECK (version > 0),
    city_gate       TEXT[],
    role_gate       TEXT[],
    clauses_ordered JSONB NOT NULL,            -- [{clause_id, version (NULL: latest published), order}]
    layout_json     JSONB NOT NULL,            -- title, header, footer, logo, lang, page breaks
    signer_roles    JSONB NOT NULL,            -- [{role}], in signing order
    is_active       BOOLEAN NOT NULL DEFAULT true,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at    TIMESTAMPTZ,
    UNIQUE (organization_id, name, version)
);
CREATE INDEX doc_template_org_name_idx ON doc_template (organization_id, name, version DESC);

CREATE TABLE doc_pack (
    pack_id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    reference       VARCHAR(200) NOT NULL CHECK (length(btrim(reference)) > 0),  -- seed: leg_id
    status          TEXT NOT NULL CHECK (status IN ('draft', 'issued', 'signed', 'voided', 'superseded')),
    generator_ver   TEXT NOT NULL,
    city            TEXT NOT NULL,
    templates       JSONB NOT NULL,            -- the template ids asked for, in order
    variables       JSONB NOT NULL,
    signer_map      JSONB NOT NULL,            -- role -> {name, email}
    superseded_by   UUID REFERENCES doc_pack (pack_id),
    void_reason     TEXT,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Seed 003's unique (leg_id, status), kept where it means something: one live pack per
-- reference. Voided and superseded packs are history, and a reference may have many.
CREATE UNIQUE INDEX doc_pack_live_reference_idx ON doc_pack (organization_id, reference)
    WHERE status IN ('draft', 'issued', 'signed');
CREATE INDEX doc_pack_org_created_idx ON doc_pack (organization_id, created_at DESC, pack_id DESC);
CREATE TRIGGER doc_pack_updated_at BEFORE UPDATE ON doc_pack
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE doc_instance (
    doc_id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    pack_id           UUID NOT NULL REFERENCES doc_pack (pack_id) ON DELETE CASCADE,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,
    title             VARCHAR(255) NOT NULL,
    template_id       UUID NOT NULL REFERENCES doc_template (template_id),
    template_version  INTEGER NOT NULL,
    clauses_resolved  JSONB NOT NULL,          -- [{clause_id, name, version}] as typeset
    variables_filled  JSONB NOT NULL,          -- placeholder -> text, as typeset
    document_id       UUID NOT NULL REFERENCES documents (id),   -- the PDF as a document
    render_pdf_s3     TEXT NOT NULL,           -- s3://bucket/key
    render_pdf_version TEXT,
    render_pdf_sha256 CHAR(64) NOT NULL,
    hash_s3_key       TEXT NOT NULL,           -- hash_{doc_id}.txt beside it
    hash_s3_version   TEXT,
    page_count        INTEGER NOT NULL,
    signature_boxes   JSONB NOT NULL,          -- [{role, page, x, y, width, height}]
    envelope_id       UUID REFERENCES envelopes (id),
    envelope_status   TEXT NOT NULL DEFAULT 'none'
                      CHECK (envelope_status IN ('none', 'sent', 'completed', 'declined', 'voided', 'expired')),
    signer_map_json   JSONB NOT NULL,          -- role -> {name, email, recipient_id once issued}
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (pack_id, position)
);
CREATE UNIQUE INDEX doc_instance_envelope_idx ON doc_instance (envelope_id);
CREATE INDEX doc_instance_document_idx ON doc_instance (document_id);
CREATE TRIGGER doc_instance_updated_at BEFORE UPDATE ON doc_instance
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE doc_sign_event (
    sign_event_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    doc_id           UUID NOT NULL REFERENCES doc_instance (doc_id) ON DELETE CASCADE,
    actor_role       TEXT NOT NULL,            -- the signer role, or 'sender'
    actor_user_id    TEXT,
    actor_email      TEXT,
    event            TEXT NOT NULL CHECK (event IN ('envelope_sent', 'viewed', 'signed', 'declined', 'voided', 'expired')),
    provider_payload JSONB NOT NULL,           -- the envelope evidence event it came from
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX doc_sign_event_doc_idx ON doc_sign_event (doc_id, created_at);
