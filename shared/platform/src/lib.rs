//! GSign's adapters and Lambda glue: every real client (Postgres, Redis, S3, SQS, KMS,
//! DynamoDB, PKCS#11) configured from an [`gsign_core::Env`], plus the traits every function
//! implements so the same handler runs under the Lambda runtime and under the local runner.

pub mod aws;
pub mod billing;
pub mod cache;
pub mod credentials;
pub mod database;
pub mod db;
pub mod handler;
pub mod hsm;
pub mod hsm_keys;
pub mod http;
pub mod idempotency;
pub mod kms_keys;
pub mod lambda;
pub mod migrations;
pub mod outbox;
pub mod pades_signer;
pub mod pagination;
pub mod ratelimit;
pub mod route_error;
pub mod sealing;
pub mod service;
pub mod sessions;
pub mod ssrf;
pub mod storage;
pub mod telemetry;
