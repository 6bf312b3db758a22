//! The local stack without AWS: provisions `moto_server` from `template.yaml` and runs every
//! function the way API Gateway, SQS event sources and EventBridge schedules would.

pub mod data_api;
pub mod metrics;
pub mod provision;
pub mod runner;
pub mod schedule;
pub mod template;
pub mod tsa;
pub mod web;

pub use runner::{LocalStack, Registry, Running, StackConfig};

/// Every area: its Lambda binary, its route table and its other functions, in the OpenAPI
/// document's order.
pub const AREAS: [&gsign_platform::lambda::AreaSpec; 10] = [
    &gsign_functions_system::AREA,
    &gsign_functions_accounts::AREA,
    &gsign_functions_documents::AREA,
    &gsign_functions_envelopes::AREA,
    &gsign_functions_certificates::AREA,
    &gsign_functions_signatures::AREA,
    &gsign_functions_webhooks::AREA,
    &gsign_functions_doc_packs::AREA,
    &gsign_functions_sealed::AREA,
    &gsign_functions_billing::AREA,
];

/// Every function this build contains. A function missing here fails the runner at start
/// (and the template consistency test), so the template and the code cannot drift.
pub fn registry() -> Registry {
    Registry::new(AREAS.iter().flat_map(|area| area.functions()))
}

/// Every area's operations, in the document's order.
pub fn api_areas() -> Vec<gsign_core::openapi::Area> {
    AREAS.iter().map(|area| area.api()).collect()
}

/// The OpenAPI document the operation tables make, as committed in `docs/openapi.json`
/// (pretty-printed, with a final newline removed by `println!`'s caller).
pub fn openapi_json() -> String {
    let document = gsign_core::openapi::document(&api_areas());
    serde_json::to_string_pretty(&document).unwrap_or_default()
}
