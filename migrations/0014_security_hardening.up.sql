-- Security hardening (issue #18).

-- Idempotency records: an answer that carried a one-time secret (a new API key, a webhook
-- signing secret) is never kept; its replay is refused. Answers already stored that way are
-- wiped now, so no secret stays at rest.
ALTER TABLE idempotency_records ADD COLUMN response_withheld BOOLEAN NOT NULL DEFAULT false;
UPDATE idempotency_records
   SET response_body = NULL, response_headers = '{}', response_withheld = true
 WHERE route IN ('create-api-key', 'create-webhook') AND status = 'completed'
   AND response_status BETWEEN 200 AND 299;

-- Outbox: a row that cannot be published is retried with its error recorded, then parked
-- (left out of sweeps, alarmed) instead of blocking every later row. Published rows are purged
-- after a retention period; delivered mail keeps no links (their raw tokens).
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN parked_at TIMESTAMPTZ;
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
UPDATE outbox SET payload = payload - 'data' WHERE kind = 'email' AND delivered_at IS NOT NULL;

-- Who made an API key: the authorizer joins the creator on every key check.
CREATE INDEX api_keys_created_by_idx ON api_keys (created_by) WHERE revoked_at IS NULL;
CREATE INDEX webhook_endpoints_created_by_idx ON webhook_endpoints (created_by) WHERE deleted_at IS NULL;

-- Access-code lockouts escalate (15 min, 1 h, 24 h) instead of starting over.
ALTER TABLE recipients ADD COLUMN access_code_lockouts INTEGER NOT NULL DEFAULT 0;

-- Cached sessions carry the version they were read at; a role change, removal or new password
-- bumps it, and Redis refuses a refill older than the newest invalidation.
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0;

-- Per-account lockout of password guessing: ten wrong passwords in a row lock the account for
-- 15 minutes, then an hour, then a day; a successful sign-in or a password reset ends it.
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN login_lockouts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN login_locked_until TIMESTAMPTZ;

-- Links to a completed envelope's documents expire (30 days by default); a fresh one is mailed
-- to the recipient's own address on request.
ALTER TABLE recipients ADD COLUMN link_expires_at TIMESTAMPTZ;
ALTER TABLE recipients ADD COLUMN link_renewed_at TIMESTAMPTZ;
UPDATE recipients r SET link_expires_at = e.completed_at + interval '30 days'
  FROM envelopes e WHERE e.id = r.envelope_id AND e.status = 'completed';
