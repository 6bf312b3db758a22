//! The signatures area's route table: each route's operation as the OpenAPI document describes it,
//! who may call it, its rate limit and replay, and its cold start. The area binary, the local
//! runner and the OpenAPI document are made from it.

use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::Action;
use gsign_platform::lambda::{AreaSpec, RouteSpec};

use crate::verify::{DocumentReference, Verification};

/// The signatures area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-signatures",
    name: "signatures",
    description: "Verification of the PAdES signatures of uploaded or stored PDFs.",
    routes: &[
        // The route also takes the PDF itself as the body (`Content-Type: application/pdf`, at
        // most `VERIFY_MAX_UPLOAD_BYTES`); the vocabulary describes only the JSON form.
        RouteSpec::new(
            Operation::new(
                "api-verify-signatures",
                "POST",
                "/v1/verify",
                "Verifies the signatures of an uploaded PDF (raw application/pdf body) or a stored \
                 document, in a sandbox.",
                Reply::Json(200, schema::<Verification>),
            )
            .with_body(schema::<DocumentReference>)
            .also_accepting("application/pdf", "The PDF to verify, as its raw bytes."),
            Action::VerifySignatures,
            crate::verify::init,
        ),
    ],
    jobs: &[],
};
