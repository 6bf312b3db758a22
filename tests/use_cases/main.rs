//! Use-case tests: each area's service called directly against a database of the test's own,
//! without the runner (see `gsign_tests::use_cases`). They run in parallel and in seconds;
//! the end-to-end stories in `tests/e2e` keep the HTTP layer honest.

// The use cases' futures nest the spans of the store calls they await.
#![recursion_limit = "256"]

mod accounts;
mod billing;
mod certificates;
mod doc_packs;
mod documents;
mod envelopes;
mod sealed;
mod signatures;
mod system;
mod webhooks;
