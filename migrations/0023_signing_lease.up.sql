-- One signing job works on an envelope at a time, without holding its row lock across the
-- HSM, the TSA or S3: a job takes this lease (a short UPDATE), does every step due, releases
-- it and looks again. A crashed job's lease expires; schedule-resume-signing wakes the envelope.
ALTER TABLE envelopes ADD COLUMN signing_lease_until TIMESTAMPTZ;
