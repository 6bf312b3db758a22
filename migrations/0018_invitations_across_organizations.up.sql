-- An invitation no longer tells the inviter whether its address has an account in another
-- organization: invited rows may share an address across organizations. One account (any
-- status but invited) per address stays, and one row per address within an organization.
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE status <> 'invited';
CREATE UNIQUE INDEX users_email_per_organization_key ON users (organization_id, lower(email));
