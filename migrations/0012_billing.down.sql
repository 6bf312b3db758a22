DROP TABLE usage_records;
DROP TABLE subscriptions;
DROP TABLE plans;
