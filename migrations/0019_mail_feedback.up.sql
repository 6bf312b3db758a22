-- Mail you can see (issue #25): what GSign handed to SES, what SES said happened to it, and
-- the addresses an organization no longer mails.

-- One row per mail handed to SES, keyed by its outbox row (the `gsign-outbox` message tag
-- every mail carries), so SES's events find what the mail was for without reading its body.
-- Kept 90 days (the sweeper purges older rows): late complaints arrive within days.
CREATE TABLE mail_messages (
    id              UUID PRIMARY KEY,               -- the outbox row
    organization_id UUID REFERENCES organizations (id) ON DELETE CASCADE,
    envelope_id     UUID REFERENCES envelopes (id) ON DELETE CASCADE,
    recipient_id    UUID REFERENCES recipients (id) ON DELETE SET NULL,
    template        VARCHAR(64)  NOT NULL,
    to_address      VARCHAR(255) NOT NULL,
    ses_message_id  VARCHAR(255),                   -- set once SES accepted it
    status          VARCHAR(20)  NOT NULL DEFAULT 'sending'
                    CHECK (status IN ('sending', 'sent', 'delivered', 'delayed', 'bounced',
                                      'complained', 'rejected', 'suppressed')),
    diagnostic      TEXT,                           -- the receiving server's words
    -- SHA-256 of the one-click unsubscribe token of a mail that is not transactional.
    unsubscribe_token_hash CHAR(64) UNIQUE,
    sent_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    status_at       TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX mail_messages_ses_idx ON mail_messages (ses_message_id) WHERE ses_message_id IS NOT NULL;
CREATE INDEX mail_messages_recipient_idx ON mail_messages (recipient_id, sent_at DESC)
    WHERE recipient_id IS NOT NULL;
CREATE INDEX mail_messages_sent_idx ON mail_messages (sent_at);

-- Each SES event once: a redelivered notification finds its row and changes nothing.
CREATE TABLE mail_events (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    mail_id         UUID NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
    ses_message_id  VARCHAR(255) NOT NULL,
    event_type      VARCHAR(20)  NOT NULL,
    address         VARCHAR(255) NOT NULL,
    occurred_at     TIMESTAMPTZ  NOT NULL,
    details         JSONB        NOT NULL DEFAULT '{}',
    received_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT mail_events_once UNIQUE (ses_message_id, event_type, address, occurred_at)
);
CREATE INDEX mail_events_mail_idx ON mail_events (mail_id, occurred_at);

-- Addresses an organization does not mail: a complaint, a permanent bounce, a one-click
-- unsubscribe, or an owner's or admin's choice. Sending an envelope to one is refused.
CREATE TABLE mail_suppressions (
    id              UUID         NOT NULL UNIQUE DEFAULT gen_random_uuid(),  -- list paging
    organization_id UUID         NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           VARCHAR(255) NOT NULL CHECK (email = lower(email) AND position('@' in email) > 1),
    reason          VARCHAR(20)  NOT NULL
                    CHECK (reason IN ('bounce', 'complaint', 'unsubscribe', 'manual')),
    detail          TEXT,
    created_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, email)
);
CREATE INDEX mail_suppressions_list_idx ON mail_suppressions (organization_id, created_at DESC, id DESC);

-- What became of the newest mail to a recipient (their signing request or reminder).
ALTER TABLE recipients
    ADD COLUMN mail_status     VARCHAR(20)
               CHECK (mail_status IN ('sent', 'delivered', 'delayed', 'bounced', 'complained',
                                      'rejected', 'suppressed')),
    ADD COLUMN mail_status_at  TIMESTAMPTZ,
    ADD COLUMN mail_diagnostic TEXT;
