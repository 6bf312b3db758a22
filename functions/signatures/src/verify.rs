//! `POST /v1/verify`: the signatures of an uploaded PDF (`application/pdf` body) or of a
//! stored document (`{"document_id": ...}`), verified against the configured trust roots and
//! the caller organization's own CA.
//!
//! The file is untrusted: verification runs in a child process of this same binary under
//! CPU, memory and wall-clock limits (`gsign_pdf::sandbox`), so a parser crash or an endless
//! loop becomes a 422 about the file, never a dead function.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gsign_core::documents::DocumentStatus;
use gsign_core::{Env, EnvReader};
use gsign_pdf::sandbox::{isolated_child_if_requested, run_isolated};
use gsign_pdf::Limits;
use gsign_platform::database::Session as _;
use gsign_platform::http::{self as web, Caller};
use gsign_platform::lambda::{http_route, HttpHandler, InitFuture, RouteSpec, StartupError};
use gsign_platform::pades_signer::RevocationFetcher;
use gsign_platform::params;
use gsign_platform::service::{Base, BaseConfig};
use gsign_platform::storage::{DocumentStore, ObjectRef, WorkDir};
use gsign_signing::verify::{change_counts, verify_with_crls, Report};
use gsign_signing::x509::parse_pem_bundle;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use x509_cert::Certificate;

use crate::error::{VerifyCase, VerifyError};

/// The child's first argument.
pub const VERIFY_ARG: &str = "__gsign-verify-pdf";

/// The largest upload: a Lambda's synchronous payload is 6 MB, base64 included.
pub const DEFAULT_MAX_UPLOAD: usize = 4 * 1024 * 1024;

/// If this process was started as the verifying child, be it (see
/// [`gsign_pdf::sandbox::isolated_child_if_requested`]): `argv[4]` is a PEM file of roots,
/// `argv[5]` (optional) a file of DER CRLs, one per line in hex.
pub fn child_main_if_requested() -> Option<ExitCode> {
    isolated_child_if_requested(VERIFY_ARG, verify_job)
}

fn verify_job(_limits: &Limits, bytes: &[u8], extra: &[OsString]) -> Result<String, String> {
    let roots = match extra.first() {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| format!("roots: {e}"))?;
            if pem.trim().is_empty() {
                Vec::new()
            } else {
                parse_pem_bundle(&pem).map_err(|e| format!("roots: {e}"))?
            }
        }
        None => Vec::new(),
    };
    let crls = match extra.get(1) {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("CRLs: {e}"))?
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| hex::decode(line.trim()).map_err(|e| format!("CRLs: {e}")))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    serde_json::to_string(&verify_with_crls(bytes, &roots, &crls)).map_err(|e| e.to_string())
}

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
    document_id: Uuid,
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
    base: Base,
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

    /// The configured roots and the organization's own CA certificates.
    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn roots(&self, org: Uuid) -> Result<Vec<Certificate>, VerifyError> {
        use der::Decode;
        let rows = self
            .base
            .db
            .connect()
            .await?
            .fetch_all(
                "SELECT certificate FROM certificates WHERE organization_id = :org \
                 AND purpose = 'ca' AND certificate IS NOT NULL",
                params!(org),
            )
            .await?;
        let mut roots = self.config.roots.clone();
        for row in rows {
            let der: Vec<u8> = row.get("certificate")?;
            if let Ok(certificate) = Certificate::from_der(&der) {
                roots.push(certificate);
            }
        }
        Ok(roots)
    }

    /// The current CRLs of the organization's own CAs: a certificate they revoked is refused
    /// for signatures made after its revocation, whatever the document carries.
    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn crls(&self, org: Uuid) -> Result<Vec<Vec<u8>>, VerifyError> {
        let rows = self
            .base
            .db
            .connect()
            .await?
            .fetch_all(
                "SELECT der FROM revocation_lists WHERE organization_id = :org \
                 AND der IS NOT NULL",
                params!(org),
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.get("der"))
            .collect::<Result<_, _>>()?)
    }

    /// The report of the sandboxed verifier on `file`, with `roots_file` and `crls`.
    #[tracing::instrument(skip_all)]
    async fn run_verifier(
        &self,
        work: &WorkDir,
        file: &std::path::Path,
        roots_file: &std::path::Path,
        crls: &[Vec<u8>],
    ) -> Result<Report, VerifyError> {
        let lines: String = crls
            .iter()
            .map(|der| format!("{}\n", hex::encode(der)))
            .collect();
        let crls_file = work.path("crls.hex");
        std::fs::write(&crls_file, lines).map_err(|e| VerifyError::Internal(e.into()))?;
        let answer = run_isolated(
            &self.config.verifier,
            VERIFY_ARG,
            file,
            &[
                roots_file.as_os_str().to_owned(),
                crls_file.into_os_string(),
            ],
            &self.config.limits,
            16 * 1024 * 1024,
        )
        .await
        .map_err(|e| VerifyError::Internal(anyhow::Error::from(e).context("run the verifier")))?;
        let line = answer.map_err(VerifyCase::Rejected)?;
        serde_json::from_slice(&line)
            .map_err(|e| VerifyError::Internal(anyhow::anyhow!("the verifier's answer: {e}")))
    }

    /// The CRLs at `urls` (at most [`MAX_FETCHED_CRLS`]), each address vetted first; a URL
    /// that fails is skipped (its certificates stay unchecked, and the report says where
    /// their status is published).
    #[tracing::instrument(skip_all)]
    async fn fetch_crls(&self, urls: &[String]) -> Vec<Vec<u8>> {
        let mut fetched = Vec::new();
        for text in urls.iter().take(MAX_FETCHED_CRLS) {
            let Ok(url) = text.parse::<url::Url>() else {
                continue;
            };
            let vetted =
                gsign_platform::ssrf::vet_signed_data(&url, self.config.fetch_allow_loopback).await;
            if let Err(refusal) = vetted {
                tracing::info!(url = %url, reason = %refusal, "CRL not fetched");
                continue;
            }
            match self.revocation.crl(url.as_str()).await {
                Ok(der) => fetched.push(der),
                Err(err) => tracing::info!(url = %url, error = %err, "CRL not fetched"),
            }
        }
        fetched
    }

    /// The bytes to verify, in a work file.
    #[tracing::instrument(skip_all)]
    async fn input(
        &self,
        caller: &Caller,
        req: &Request,
        work: &WorkDir,
    ) -> Result<PathBuf, VerifyError> {
        let media = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let file = work.path("input.pdf");
        match media.as_str() {
            "application/pdf" => {
                let body: &[u8] = req.body().as_ref();
                if body.is_empty() {
                    return Err(VerifyError::invalid("", "the body is empty"));
                }
                if body.len() > self.config.max_upload {
                    return Err(VerifyCase::TooLarge(self.config.max_upload).into());
                }
                std::fs::write(&file, body).map_err(|e| VerifyError::Internal(e.into()))?;
            }
            "application/json" => {
                let reference: DocumentReference = web::parse_json(req, 4096)?;
                let row = self
                    .base
                    .db
                    .connect()
                    .await?
                    .fetch_optional(
                        "SELECT status, pdf_s3_key, pdf_s3_version_id FROM documents \
                         WHERE organization_id = :org AND id = :id AND deleted_at IS NULL",
                        params!(org = caller.org, id = reference.document_id),
                    )
                    .await?
                    .ok_or(VerifyError::NotFound("document"))?;
                let status: DocumentStatus = row.stored("status")?;
                let key: Option<String> = row.get("pdf_s3_key")?;
                let Some(key) = key.filter(|_| status == DocumentStatus::Ready) else {
                    return Err(VerifyCase::DocumentNotReady(status).into());
                };
                self.store
                    .fetch_to_file(
                        &ObjectRef {
                            key,
                            version_id: row.get("pdf_s3_version_id")?,
                        },
                        &file,
                        self.config.max_document,
                    )
                    .await?;
            }
            _ => return Err(VerifyError::Area(VerifyCase::UnsupportedMediaType)),
        }
        let mut head = Vec::with_capacity(1024);
        {
            use std::io::Read;
            std::fs::File::open(&file)
                .and_then(|f| f.take(1024).read_to_end(&mut head))
                .map_err(|e| VerifyError::Internal(e.into()))?;
        }
        if !matches!(gsign_pdf::sniff(&head), Ok(gsign_pdf::FileKind::Pdf)) {
            return Err(VerifyCase::NotPdf.into());
        }
        Ok(file)
    }

    /// Verifies an uploaded PDF, or one of the organization's documents by reference.
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<Verification, VerifyError> {
        let work = WorkDir::new(&std::env::temp_dir(), "verify")
            .map_err(|e| VerifyError::Internal(e.into()))?;
        let file = self.input(caller, req, &work).await?;
        let roots = self.roots(caller.org).await?;
        let mut pem = String::new();
        for root in &roots {
            pem.push_str(
                &gsign_signing::x509::to_pem(root).map_err(|e| VerifyError::Internal(e.into()))?,
            );
        }
        let roots_file = work.path("roots.pem");
        std::fs::write(&roots_file, pem).map_err(|e| VerifyError::Internal(e.into()))?;
        let mut crls = self.crls(caller.org).await?;
        let mut report = self.run_verifier(&work, &file, &roots_file, &crls).await?;
        // External chains: with fetching allowed, the CRLs their certificates name are
        // fetched (addresses vetted like webhook URLs) and the file verified again with them.
        let sources: Vec<String> = report
            .signatures
            .iter()
            .flat_map(|s| s.revocation_sources.iter().cloned())
            .fold(Vec::new(), |mut all, url| {
                if !all.contains(&url) {
                    all.push(url);
                }
                all
            });
        if self.config.fetch_revocation && !sources.is_empty() {
            let fetched = self.fetch_crls(&sources).await;
            if !fetched.is_empty() {
                crls.extend(fetched);
                report = self.run_verifier(&work, &file, &roots_file, &crls).await?;
            }
        }
        Ok(Verification {
            valid: report.all_valid_and_trusted(),
            signature_count: report.signatures.len(),
            revision_changes: change_counts(&report.revisions),
            report,
        })
    }
}

struct VerifyRoute {
    api: VerifyApi,
    spec: &'static RouteSpec,
}

#[async_trait]
impl HttpHandler for VerifyRoute {
    async fn handle(&self, req: Request) -> Response<Body> {
        let answer = async {
            let caller = self.spec.caller(&req)?;
            let verification = self.api.verify(&caller, &req).await?;
            Ok::<_, VerifyError>(web::json(StatusCode::OK, &verification))
        };
        match answer.await {
            Ok(response) => response,
            Err(err) => web::error(err, &req),
        }
    }
}

/// The cold start of `POST /v1/verify`, declared by `spec`.
pub(crate) fn init(env: Env, spec: &'static RouteSpec) -> InitFuture {
    Box::pin(async move {
        let api = VerifyApi::from_env(&env).await?;
        let limiter = api.base.limiter.clone();
        let db = api.base.db.clone();
        Ok(http_route(
            Arc::new(VerifyRoute { api, spec }),
            spec,
            limiter,
            db,
        ))
    })
}
