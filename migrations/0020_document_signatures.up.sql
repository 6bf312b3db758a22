-- What ingest found signed in a document before GSign saw it (issue #21): the signed fields
-- it carries, and a certification's DocMDP permissions. Such a document can still be sent
-- (fields come in an incremental update, signature fields only); a certified one cannot, and
-- the draft's checklist says so before the sender builds an envelope.
ALTER TABLE documents
    ADD COLUMN signatures    INTEGER  NOT NULL DEFAULT 0 CHECK (signatures >= 0),
    ADD COLUMN certification SMALLINT CHECK (certification BETWEEN 1 AND 3);
