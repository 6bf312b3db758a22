//! End-to-end tests against the real local stack: PostgreSQL, Redis, moto_server (S3, SQS,
//! KMS, DynamoDB) and SoftHSM2. Each test uses a database and a stack name of its own, so they
//! run in parallel and leave nothing behind. Start the stack first: `infra/local/stack up`
//! (`infra/local/stack test` does it and runs these).

mod accounts;
mod auth_flow;
mod billing;
mod cargo_lambda;
mod certificates;
mod certificates_api;
mod completion;
mod data_api;
mod doc_packs;
mod documents;
mod envelopes;
mod health;
mod hsm_keys;
mod idempotency;
mod layout;
mod long_functions;
mod mail;
mod matrix;
mod migrations;
mod openapi;
mod pades;
mod rate_limits;
mod render;
mod runner;
mod sealed;
mod security;
mod signing;
mod store;
mod team;
mod template;
mod verify;
mod web;
mod webhooks;
