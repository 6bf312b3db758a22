//! `POST /v1/verify`'s use case: the bytes to verify, the roots and CRLs the organization
//! trusts, the sandboxed verifier run once or, with fetched CRLs, twice.

use std::path::PathBuf;

use gsign_core::documents::DocumentStatus;
use gsign_pdf::sandbox::run_isolated;
use gsign_platform::http::Caller;
use gsign_platform::storage::WorkDir;
use gsign_signing::verify::{change_counts, Report};
use uuid::Uuid;
use x509_cert::Certificate;

use super::{Verification, VerifyApi, VerifyInput, MAX_FETCHED_CRLS, VERIFY_ARG};
use crate::error::{VerifyCase, VerifyError};
use crate::store;

impl VerifyApi {
    /// The configured roots and the organization's own CA certificates.
    #[tracing::instrument(skip_all, fields(org = %org))]
    async fn roots(&self, org: Uuid) -> Result<Vec<Certificate>, VerifyError> {
        use der::Decode;
        let session = self.base.db.connect().await?;
        let mut roots = self.config.roots.clone();
        for der in store::ca_certificates(&session, org).await? {
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
        let session = self.base.db.connect().await?;
        Ok(store::revocation_lists(&session, org).await?)
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
        input: VerifyInput<'_>,
        work: &WorkDir,
    ) -> Result<PathBuf, VerifyError> {
        let file = work.path("input.pdf");
        match input {
            VerifyInput::Upload(body) => {
                if body.is_empty() {
                    return Err(VerifyError::invalid("", "the body is empty"));
                }
                if body.len() > self.config.max_upload {
                    return Err(VerifyCase::TooLarge(self.config.max_upload).into());
                }
                std::fs::write(&file, body).map_err(|e| VerifyError::Internal(e.into()))?;
            }
            VerifyInput::Stored(document_id) => {
                let session = self.base.db.connect().await?;
                let stored = store::stored_pdf(&session, caller.org, document_id)
                    .await?
                    .ok_or(VerifyError::NotFound("document"))?;
                let Some(object) = stored
                    .object
                    .filter(|_| stored.status == DocumentStatus::Ready)
                else {
                    return Err(VerifyCase::DocumentNotReady(stored.status).into());
                };
                self.store
                    .fetch_to_file(&object, &file, self.config.max_document)
                    .await?;
            }
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
        input: VerifyInput<'_>,
    ) -> Result<Verification, VerifyError> {
        let work = WorkDir::new(&std::env::temp_dir(), "verify")
            .map_err(|e| VerifyError::Internal(e.into()))?;
        let file = self.input(caller, input, &work).await?;
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
