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

/// Every area's Lambda binary and the functions it serves.
pub const AREAS: [(&str, &[gsign_platform::lambda::FunctionSpec]); 10] = [
    ("gsign-system", gsign_functions_system::FUNCTIONS),
    ("gsign-accounts", gsign_functions_accounts::FUNCTIONS),
    ("gsign-documents", gsign_functions_documents::FUNCTIONS),
    (
        "gsign-certificates",
        gsign_functions_certificates::FUNCTIONS,
    ),
    ("gsign-signatures", gsign_functions_signatures::FUNCTIONS),
    ("gsign-envelopes", gsign_functions_envelopes::FUNCTIONS),
    ("gsign-webhooks", gsign_functions_webhooks::FUNCTIONS),
    ("gsign-doc-packs", gsign_functions_doc_packs::FUNCTIONS),
    ("gsign-sealed", gsign_functions_sealed::FUNCTIONS),
    ("gsign-billing", gsign_functions_billing::FUNCTIONS),
];

/// Every function this build contains. A function missing here fails the runner at start
/// (and the template consistency test), so the template and the code cannot drift.
pub fn registry() -> Registry {
    Registry::new(
        AREAS
            .iter()
            .flat_map(|(_, functions)| functions.iter().copied()),
    )
}

/// Every area's operations, in the document's order.
pub fn api_areas() -> Vec<gsign_core::openapi::Area> {
    vec![
        gsign_functions_system::api::AREA,
        gsign_functions_accounts::api::AREA,
        gsign_functions_documents::api::AREA,
        gsign_functions_envelopes::api::AREA,
        gsign_functions_certificates::api::AREA,
        gsign_functions_signatures::api::AREA,
        gsign_functions_webhooks::api::AREA,
        gsign_functions_doc_packs::api::AREA,
        gsign_functions_sealed::api::AREA,
        gsign_functions_billing::api::AREA,
    ]
}

/// The OpenAPI document the operation tables make, as committed in `docs/openapi.json`
/// (pretty-printed, with a final newline removed by `println!`'s caller).
pub fn openapi_json() -> String {
    let document = gsign_core::openapi::document(&api_areas());
    serde_json::to_string_pretty(&document).unwrap_or_default()
}
