DROP TABLE envelope_decryptions;
DROP TABLE sealed_envelopes;
DROP TABLE prompts;
DROP TABLE cryptographic_keys;
