DROP TABLE doc_sign_event;
DROP TABLE doc_instance;
DROP TABLE doc_pack;
DROP TABLE doc_template;
DROP TABLE doc_clause;
