//! `POST /v1/verify`: the signatures of an uploaded PDF (`application/pdf` body) or of a
//! stored document (`{"document_id": ...}`), verified against the configured trust roots and
//! the caller organization's own CA.
//!
//! The file is untrusted: verification runs in a child process of this same binary under
//! CPU, memory and wall-clock limits (`gsign_pdf::sandbox`), so a parser crash or an endless
//! loop becomes a 422 about the file, never a dead function.

mod sandbox;
mod verify;

pub use sandbox::{child_main_if_requested, VERIFY_ARG};

use std::path::PathBuf;
use std::time::Duration;

use gsign_core::{Env, EnvReader};
use gsign_pdf::Limits;
use gsign_platform::lambda::StartupError;
use gsign_platform::pades_signer::RevocationFetcher;
use gsign_platform::service::{Base, BaseConfig};
use gsign_platform::storage::DocumentStore;
use gsign_signing::verify::Report;
use gsign_signing::x509::parse_pem_bundle;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use x509_cert::Certificate;

/// The largest upload: a Lambda's synchronous payload is 6 MB, base64 included.
pub const DEFAULT_MAX_UPLOAD: usize = 4 * 1024 * 1024;

/// The settings.
pub struct VerifyConfig {
    base: BaseConfig,
    bucket: String,
    kms_key_id: String,
    settings: Settings,
}

/// What the route itself needs.
struct Settings {
    /// `VERIFY_MAX_UPLOAD_BYTES`.
    max_upload: usize,
    /// `DOCUMENT_MAX_BYTES`: the largest stored document to verify.
    max_document: u64,
    /// `TRUST_ROOTS_PEM`: PEM certificates every organization trusts (e.g. a national root).
    roots: Vec<Certificate>,
    /// `PDF_VERIFIER`: the binary that answers [`VERIFY_ARG`] (default: this one).
    verifier: PathBuf,
    limits: Limits,
    /// `VERIFY_FETCH_REVOCATION`: fetch the CRLs external chains name (default false).
    fetch_revocation: bool,
    /// `VERIFY_FETCH_ALLOW_LOOPBACK`: those CRLs may be on 127.0.0.1 (local stack and tests).
    fetch_allow_loopback: bool,
}

impl VerifyConfig {
    /// Reads the settings, recording every problem in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let base = BaseConfig::read(r);
        let bucket = r.required::<String>("DOCUMENTS_BUCKET");
        let kms_key_id = r.required::<String>("DOCUMENTS_KEY_ID");
        let max_upload = r.or("VERIFY_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD);
        let max_document = r.or("DOCUMENT_MAX_BYTES", 25u64 * 1024 * 1024);
        let roots = match r.optional::<String>("TRUST_ROOTS_PEM") {
            Some(pem) if !pem.trim().is_empty() => match parse_pem_bundle(&pem) {
                Ok(roots) => roots,
                Err(e) => {
                    r.problem(format!("TRUST_ROOTS_PEM: {e}"));
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        let verifier = match r.optional::<PathBuf>("PDF_VERIFIER") {
            Some(path) => Some(path),
            None => match std::env::current_exe() {
                Ok(path) => Some(path),
                Err(e) => {
                    r.problem(format!(
                        "PDF_VERIFIER is not set and this executable's path is unknown: {e}"
                    ));
                    None
                }
            },
        };
        let timeout_ms = r.or("VERIFY_TIMEOUT_MS", 20_000u64);
        let fetch_revocation = r.or("VERIFY_FETCH_REVOCATION", false);
        let fetch_allow_loopback = r.or("VERIFY_FETCH_ALLOW_LOOPBACK", false);
        let memory = r.or("VERIFY_MEMORY_BYTES", 1024u64 * 1024 * 1024);
        Some(Self {
            base: base?,
            bucket: bucket?,
            kms_key_id: kms_key_id?,
            settings: Settings {
                max_upload,
                max_document,
                roots,
                verifier: verifier?,
                limits: Limits {
                    timeout: Duration::from_millis(timeout_ms),
                    max_memory_bytes: memory,
                    ..Limits::default()
                },
                fetch_revocation,
                fetch_allow_loopback,
            },
        })
    }
}

/// The JSON form of the body: a stored document to verify, `{"document_id": ...}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "VerifyStoredDocument")]
pub(crate) struct DocumentReference {
    /// A stored document of the caller's organization, in status `ready`.
    pub(crate) document_id: Uuid,
}

/// What to verify.
#[derive(Debug, Clone, Copy)]
pub enum VerifyInput<'a> {
    /// A PDF given as it is (the body of an `application/pdf` request).
    Upload(&'a [u8]),
    /// One of the caller's organization's stored documents, by id.
    Stored(Uuid),
}

/// The answer: a summary, then the full report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SignatureVerification")]
pub struct Verification {
    /// Every signature valid (intact, well formed, covering its revision, not modified
    /// after) and trusted.
    valid: bool,
    /// How many signatures the file holds.
    signature_count: usize,
    /// How many revisions made each kind of change (`signature_only`, `form_filling`,
    /// `modified`); kinds that never occur are absent.
    revision_changes: std::collections::BTreeMap<&'static str, usize>,
    #[serde(flatten)]
    report: Report,
}

/// The verification service: `POST /v1/verify`'s use case.
pub struct VerifyApi {
    pub(crate) base: Base,
    store: DocumentStore,
    config: Settings,
    revocation: RevocationFetcher,
}

/// CRLs one verification fetches at most.
const MAX_FETCHED_CRLS: usize = 8;

impl VerifyApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients.
    #[tracing::instrument(skip_all)]
    pub async fn from_env(env: &Env) -> Result<Self, StartupError> {
        let mut r = env.reader();
        let config = VerifyConfig::read(&mut r);
        let VerifyConfig {
            base,
            bucket,
            kms_key_id,
            settings,
        } = r.finish(|| config)?;
        let base = Base::build(base).await?;
        Ok(Self {
            store: DocumentStore::new(gsign_platform::aws::s3(&base.sdk), bucket, kms_key_id),
            base,
            config: settings,
            revocation: RevocationFetcher::new(Duration::from_secs(5))
                .map_err(anyhow::Error::from)?,
        })
    }
}
