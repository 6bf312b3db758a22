ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN login_lockouts, DROP COLUMN login_locked_until;
ALTER TABLE users DROP COLUMN session_version;
ALTER TABLE recipients DROP COLUMN access_code_lockouts;
DROP INDEX IF EXISTS webhook_endpoints_created_by_idx;
DROP INDEX IF EXISTS api_keys_created_by_idx;
DROP INDEX IF EXISTS outbox_published_idx;
ALTER TABLE outbox DROP COLUMN parked_at;
ALTER TABLE outbox DROP COLUMN last_error;
ALTER TABLE idempotency_records DROP COLUMN response_withheld;
