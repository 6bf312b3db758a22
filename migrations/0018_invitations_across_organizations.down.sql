-- Back to one row per address: invitations that share an address with another row go
-- (the account, or the oldest invitation, stays).
DELETE FROM users u
 WHERE u.status = 'invited'
   AND EXISTS (SELECT 1 FROM users o
                WHERE lower(o.email) = lower(u.email) AND o.id <> u.id
                  AND (o.status <> 'invited' OR (o.created_at, o.id) < (u.created_at, u.id)));
DROP INDEX users_email_per_organization_key;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
