ALTER TABLE recipients DROP COLUMN mail_status, DROP COLUMN mail_status_at,
    DROP COLUMN mail_diagnostic;
DROP TABLE mail_suppressions;
DROP TABLE mail_events;
DROP TABLE mail_messages;
