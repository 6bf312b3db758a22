-- When a consumer finished an outbox row's side effect (an email sent), so a redelivered
-- message is not sent twice.
ALTER TABLE outbox ADD COLUMN delivered_at TIMESTAMPTZ;
