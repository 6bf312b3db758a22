DROP TABLE organizations;
DROP FUNCTION set_updated_at();
