ALTER TABLE envelopes DROP COLUMN language;
