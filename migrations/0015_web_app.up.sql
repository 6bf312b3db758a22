-- The web app (issue #19).

-- The language a sender chooses for an envelope's signing pages: the page speaks it unless
-- the recipient picked another with the switch. NULL: the recipient's browser decides.
ALTER TABLE envelopes
    ADD COLUMN language VARCHAR(5) CHECK (language IN ('en', 'mn'));

-- Embedded recipients sign inside the sender's own page: GSign mails them no signing link.
-- The sender asks for a view URL instead, which carries a single-use ticket (only its hash is
-- kept) good for five minutes; opening it trades the ticket for a signing token held by that
-- page alone.
ALTER TABLE recipients
    ADD COLUMN embedded BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN view_ticket_hash VARCHAR(64),
    ADD COLUMN view_ticket_expires_at TIMESTAMPTZ;
CREATE UNIQUE INDEX recipients_view_ticket_idx ON recipients (view_ticket_hash)
    WHERE view_ticket_hash IS NOT NULL;
-- When the ticket was spent: the hash stays (so the page of a spent URL can still be framed
-- by the organization's own page, and tell it so) until the next view URL replaces it.
ALTER TABLE recipients ADD COLUMN view_ticket_used_at TIMESTAMPTZ;
