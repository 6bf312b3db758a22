ALTER TABLE outbox DROP COLUMN delivered_at;
