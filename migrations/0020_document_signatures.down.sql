ALTER TABLE documents DROP COLUMN signatures, DROP COLUMN certification;
