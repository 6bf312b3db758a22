//! A local RFC 3161 timestamp authority: `openssl ts -reply` behind one HTTP route, for the
//! local stack (`stack up` makes its certificates with openssl and serves it at
//! `/_local/tsa` of the runner) and for the tests (with a certificate from their test root).
//! What a real TSA does is exactly what the signing worker's client talks to: a DER
//! `TimeStampReq` in, a DER `TimeStampResp` out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `application/timestamp-reply`.
const RESPONSE_CONTENT_TYPE: &str = "application/timestamp-reply";

/// Writes the openssl `ts` configuration into `dir` for a TSA signing with `key` and
/// `certificate` (critical EKU timeStamping), sending `chain` (PEM) along in its tokens.
pub fn configure(dir: &Path, key: &Path, certificate: &Path, chain: &Path) -> std::io::Result<()> {
    if !dir.join("serial").exists() {
        std::fs::write(dir.join("serial"), "01\n")?;
    }
    std::fs::write(
        dir.join("openssl.cnf"),
        format!(
            "[ tsa ]\ndefault_tsa = local\n[ local ]\ndir = {}\nserial = $dir/serial\n\
             crypto_device = builtin\nsigner_cert = {}\ncerts = {}\nsigner_key = {}\n\
             signer_digest = sha256\ndefault_policy = 1.3.6.1.4.1.99999.1\ndigests = sha256\n\
             accuracy = secs:1\nordering = yes\ntsa_name = no\ness_cert_id_chain = no\n\
             ess_cert_id_alg = sha256\n",
            dir.display(),
            certificate.display(),
            chain.display(),
            key.display(),
        ),
    )
}

/// The file in a TSA's directory holding its issuer's CRL (DER), served at `GET /root.crl`:
/// the distribution point its certificate names, so validators (and the signing worker's
/// document security store) find the TSA's revocation status.
pub const CRL_FILE: &str = "root.crl";

/// The TSA's routes over the configuration in `dir`: `POST /` answers requests (503 while
/// `in_service` is false: tests take it out of service), `GET /root.crl` serves its issuer's
/// CRL.
pub fn router(dir: PathBuf, in_service: Arc<AtomicBool>) -> axum::Router {
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    let crl_dir = dir.clone();
    axum::Router::new()
        .route(
            "/root.crl",
            axum::routing::get(move || {
                let path = crl_dir.join(CRL_FILE);
                async move {
                    match tokio::fs::read(&path).await {
                        Ok(der) => (
                            http::StatusCode::OK,
                            [(http::header::CONTENT_TYPE, "application/pkix-crl")],
                            der,
                        ),
                        Err(_) => (
                            http::StatusCode::NOT_FOUND,
                            [(http::header::CONTENT_TYPE, "text/plain")],
                            b"no CRL".to_vec(),
                        ),
                    }
                }
            }),
        )
        .route(
            "/",
            axum::routing::post(move |body: axum::body::Bytes| {
                let dir = dir.clone();
                let gate = Arc::clone(&gate);
                let in_service = Arc::clone(&in_service);
                async move {
                    if !in_service.load(Ordering::SeqCst) {
                        return (
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            [(http::header::CONTENT_TYPE, "text/plain")],
                            b"out of service".to_vec(),
                        );
                    }
                    // One openssl at a time: it keeps its serial number in a file.
                    let _turn = gate.lock().await;
                    match reply(&dir, &body).await {
                        Ok(answer) => (
                            http::StatusCode::OK,
                            [(http::header::CONTENT_TYPE, RESPONSE_CONTENT_TYPE)],
                            answer,
                        ),
                        Err(err) => {
                            tracing::error!(error = format!("{err:#}"), "local TSA failed");
                            (
                                http::StatusCode::INTERNAL_SERVER_ERROR,
                                [(http::header::CONTENT_TYPE, "text/plain")],
                                format!("{err:#}").into_bytes(),
                            )
                        }
                    }
                }
            }),
        )
}

/// openssl's answer to one request. openssl under a loaded machine has answered "rejection"
/// once; a real TSA's transient refusal is retried here, where the TSA lives, so clients
/// still see every answer it settles on.
async fn reply(dir: &Path, query: &[u8]) -> anyhow::Result<Vec<u8>> {
    let id = uuid::Uuid::new_v4();
    let query_file = dir.join(format!("{id}.tsq"));
    let reply_file = dir.join(format!("{id}.tsr"));
    tokio::fs::write(&query_file, query).await?;
    let mut answer = Vec::new();
    // openssl's transient refusals (status 2, seen under a loaded CI run twice) have not
    // outlasted a few seconds: back off 0.1, 0.2, … 1.6 s.
    for attempt in 0..6u32 {
        let out = tokio::process::Command::new("openssl")
            .args(["ts", "-reply", "-config"])
            .arg(dir.join("openssl.cnf"))
            .arg("-queryfile")
            .arg(&query_file)
            .arg("-out")
            .arg(&reply_file)
            .output()
            .await?;
        anyhow::ensure!(
            out.status.success(),
            "openssl ts: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        answer = tokio::fs::read(&reply_file).await?;
        // PKIStatus 0 is granted, 1 granted with modifications.
        let granted = <x509_tsp::TimeStampResp as der::Decode>::from_der(&answer)
            .map(|r| (r.status.status as u8) <= 1)
            .unwrap_or(false);
        if granted {
            break;
        }
        tracing::warn!(
            attempt,
            stderr = %String::from_utf8_lossy(&out.stderr),
            "local TSA: openssl refused; retrying"
        );
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(4))).await;
    }
    let _ = tokio::fs::remove_file(&query_file).await;
    let _ = tokio::fs::remove_file(&reply_file).await;
    Ok(answer)
}
