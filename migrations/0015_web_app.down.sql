DROP INDEX IF EXISTS recipients_view_ticket_idx;
ALTER TABLE recipients
    DROP COLUMN view_ticket_used_at,
    DROP COLUMN view_ticket_expires_at,
    DROP COLUMN view_ticket_hash,
    DROP COLUMN embedded;
ALTER TABLE envelopes DROP COLUMN language;
