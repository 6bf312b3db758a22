ALTER TABLE envelopes DROP COLUMN signing_lease_until;
