DROP TABLE envelopes;
DROP TABLE documents;
