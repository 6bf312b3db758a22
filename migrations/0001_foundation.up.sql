-- Foundation: the tenant root every tenant-owned row references, and the trigger that keeps
-- updated_at honest. Later migrations (accounts, documents, envelopes, ...) build on these.

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- Organizations (tenants), per seeds 000 and 004.
CREATE TABLE organizations (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name       VARCHAR(255) NOT NULL CHECK (length(btrim(name)) > 0),
    slug       VARCHAR(100) NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    plan       VARCHAR(50)  NOT NULL DEFAULT 'free',
    status     VARCHAR(20)  NOT NULL DEFAULT 'active'
               CHECK (status IN ('active', 'suspended', 'closed')),
    settings   JSONB        NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ  NOT NULL DEFAULT now()
);

CREATE TRIGGER organizations_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
