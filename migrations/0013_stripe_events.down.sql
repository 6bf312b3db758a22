UPDATE plans SET stripe_price_id = NULL WHERE code IN ('pro', 'business');
ALTER TABLE subscriptions DROP COLUMN last_event_at;
DROP TABLE stripe_events;
