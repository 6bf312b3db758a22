DROP TABLE idempotency_keys;
DROP TABLE outbox;
DROP TABLE account_tokens;
DROP TABLE api_keys;
DROP TABLE user_sessions;
DROP TABLE users;
