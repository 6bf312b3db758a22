//! The sealed envelopes domain's errors: the shared route error with this area's own cases, mapped to problem details once.

use gsign_core::{IntoProblem, Problem};
use gsign_platform::hsm::HsmError;
use gsign_platform::kms_keys::KmsKeyError;
use gsign_platform::route_error::RouteError;
use http::StatusCode;

/// Why an envelope did not open: the stable reason recorded in the decryption log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenRefusal {
    /// A field is not well formed (`field`, detail).
    Malformed(&'static str, String),
    /// The sender's key is not in the registry.
    UnknownSenderKey,
    /// The sender's key was revoked.
    SenderKeyRevoked,
    /// The signature does not verify: some field was changed, or another key signed.
    BadSignature,
    /// The receiver's key is not one of the organization's own keys (HSM or KMS).
    UnknownReceiverKey,
    /// The receiver's key was revoked.
    ReceiverKeyRevoked,
    /// The wrapped key does not unwrap with the receiver's key.
    KeyUnwrapFailed,
    /// The payload does not decrypt (ciphertext, IV or tag changed after signing? the
    /// signature would have said so; a sender that sealed it wrongly).
    DecryptionFailed,
}

impl OpenRefusal {
    /// The reason recorded and returned.
    pub fn code(&self) -> String {
        match self {
            OpenRefusal::Malformed(field, _) => format!("malformed_{field}"),
            OpenRefusal::UnknownSenderKey => "unknown_sender_key".into(),
            OpenRefusal::SenderKeyRevoked => "sender_key_revoked".into(),
            OpenRefusal::BadSignature => "bad_signature".into(),
            OpenRefusal::UnknownReceiverKey => "unknown_receiver_key".into(),
            OpenRefusal::ReceiverKeyRevoked => "receiver_key_revoked".into(),
            OpenRefusal::KeyUnwrapFailed => "key_unwrap_failed".into(),
            OpenRefusal::DecryptionFailed => "decryption_failed".into(),
        }
    }
}

/// What can go wrong in a sealed-envelope route.
pub type SealedError = RouteError<SealedCase>;

/// What only this area refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum SealedCase {
    /// The prompt changed since the version the caller read.
    #[error("version conflict")]
    VersionConflict(i32),
    /// A key that cannot be used for this (revoked, expired, wrong usage): why.
    #[error("key unusable: {0}")]
    KeyUnusable(String),
    /// A key id already in use.
    #[error("key id taken")]
    KeyIdTaken,
    /// The envelope expired (checked after its signature).
    #[error("expired")]
    Expired,
    /// The envelope did not open; the attempt is recorded.
    #[error("not opened: {0:?}")]
    NotOpened(OpenRefusal),
    /// The HSM failed.
    #[error(transparent)]
    Hsm(#[from] HsmError),
    /// KMS failed (keys held there).
    #[error(transparent)]
    Kms(#[from] KmsKeyError),
}

gsign_platform::route_error_area!(SealedCase);

/// Why an envelope did not open, in words.
fn refusal_detail(refusal: &OpenRefusal) -> String {
    match refusal {
        OpenRefusal::Malformed(field, detail) => format!("{field}: {detail}"),
        OpenRefusal::UnknownSenderKey => "The sender's key is not registered.".into(),
        OpenRefusal::SenderKeyRevoked => "The sender's key was revoked.".into(),
        OpenRefusal::BadSignature => {
            "The sender's signature does not match: a field was changed, or another key signed."
                .into()
        }
        OpenRefusal::UnknownReceiverKey => {
            "The receiver's key is not one of your organization's own keys.".into()
        }
        OpenRefusal::ReceiverKeyRevoked => "The receiver's key was revoked.".into(),
        OpenRefusal::KeyUnwrapFailed => {
            "The wrapped key does not unwrap with the receiver's key.".into()
        }
        OpenRefusal::DecryptionFailed => "The payload does not decrypt.".into(),
    }
}

impl IntoProblem for SealedCase {
    fn into_problem(self) -> Problem {
        match self {
            SealedCase::VersionConflict(current) => Problem::new(
                StatusCode::CONFLICT,
                "version-conflict",
                "Changed since you read it",
            )
            .with_detail(format!(
                "The prompt is at version {current}; read it again and retry."
            ))
            .with_extension("version", serde_json::json!(current)),
            SealedCase::KeyUnusable(reason) => Problem::new(
                StatusCode::CONFLICT,
                "key-unusable",
                "The key cannot be used",
            )
            .with_detail(reason),
            SealedCase::KeyIdTaken => {
                Problem::new(StatusCode::CONFLICT, "key-id-taken", "Key id in use")
                    .with_detail("Another key of your organization has this key_id.")
            }
            SealedCase::Expired => Problem::new(
                StatusCode::GONE,
                "sealed-envelope-expired",
                "The envelope expired",
            )
            .with_detail("Its signature is valid, but it may no longer be opened."),
            SealedCase::NotOpened(refusal) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sealed-envelope-refused",
                "The envelope was not opened",
            )
            .with_detail(refusal_detail(&refusal))
            .with_extension("reason", serde_json::json!(refusal.code())),
            SealedCase::Hsm(err) => {
                tracing::error!(error = %err, "HSM failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "hsm-unavailable",
                    "Cryptographic service unavailable",
                )
                .with_detail("The HSM could not complete the request; try again shortly.")
            }
            SealedCase::Kms(err) => {
                tracing::error!(error = %err, "KMS failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "kms-unavailable",
                    "Cryptographic service unavailable",
                )
                .with_detail("KMS could not complete the request; try again shortly.")
            }
        }
    }
}
