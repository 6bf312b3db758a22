-- The language a sender chooses for an envelope's signing pages (issue #19): the page speaks
-- it unless the recipient picked another with the switch. NULL: the recipient's browser decides.
ALTER TABLE envelopes
    ADD COLUMN language VARCHAR(5) CHECK (language IN ('en', 'mn'));
