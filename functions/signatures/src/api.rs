//! The signatures area's operations, as the OpenAPI document describes them.

use gsign_core::openapi::{schema, Area, Operation, Reply};

use crate::verify::{DocumentReference, Verification};

/// The signatures area.
pub const AREA: Area = Area {
    name: "signatures",
    description: "Verification of the PAdES signatures of uploaded or stored PDFs.",
    operations: &[
        // The route also takes the PDF itself as the body (`Content-Type: application/pdf`, at
        // most `VERIFY_MAX_UPLOAD_BYTES`); the vocabulary describes only the JSON form.
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
    ],
};
