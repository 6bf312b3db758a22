//! Signing figures, against the local SoftHSM token:
//!
//! - one signer's PAdES revision (`gsign_signing::pades`, key in the HSM) of 1, 10 and 100 MB
//!   PDFs, file to file: time and peak memory in a fresh process, next to pyHanko signing the
//!   same file in-process (its Python API, a software key, also reading and writing files)
//!   and `openssl dgst -sha256` on the same file; the files are on tmpfs when there is one;
//! - signatures per second through one container's HSM session pool (two sessions) with two
//!   workers, RSA-2048 PSS and ECDSA P-256.
//!
//! Run: `cargo bench -p gsign-tests --bench signing` (local stack up).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gsign_platform::hsm::{Hsm, HsmConfig};
use gsign_platform::hsm_keys::{HsmSigner, KeySpec, Scheme};
use gsign_signing::cms::detached_signed_data;
use gsign_signing::pades::{self, SignatureInfo, DEFAULT_RESERVE};
use gsign_signing::x509::{issue, to_pem, Issuer, Profile};
use gsign_tests::bench::{make_pdf, openssl_seconds, peak_rss_kib};
use gsign_tests::pki::subject;
use gsign_tests::{stack_env, stack_var, unique};
use serde_json::json;
use x509_cert::Certificate;

fn open_hsm() -> anyhow::Result<Hsm> {
    let mut r = stack_env().reader();
    let config = HsmConfig::read(&mut r);
    let config = r.finish(|| config)?;
    Ok(Hsm::open(&config)?)
}

/// Child: signs `input` into `output` with key `key_hex`, chain from PEM files.
fn child_sign(args: &[String]) -> anyhow::Result<serde_json::Value> {
    use der::DecodePem;
    let hsm = open_hsm()?;
    let key_id = hex::decode(&args[0])?;
    let chain = args[3..]
        .iter()
        .map(|p| Ok(Certificate::from_pem(std::fs::read(p)?)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // File to file, as pyHanko and openssl are timed: read, revision, HSM signature, write.
    let started = Instant::now();
    let pdf = gsign_platform::storage::read_file_parallel(std::path::Path::new(&args[1]), 2)?;
    let read = started.elapsed().as_secs_f64();
    let pending = pades::begin(
        &pdf,
        &SignatureInfo {
            field_name: "Signature1".to_owned(),
            signer_name: "Bench".to_owned(),
            reason: None,
            time: SystemTime::now(),
            locks_document: false,
        },
        &[],
        DEFAULT_RESERVE,
    )?;
    let begun = started.elapsed().as_secs_f64();
    let cms = detached_signed_data(
        &pending.digest(),
        &chain,
        &HsmSigner {
            hsm: &hsm,
            key_id,
            scheme: Scheme::RsaPssSha256,
        },
    )?;
    let signed = started.elapsed().as_secs_f64();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[2])?);
    pending.finish_to(&cms, &mut out)?;
    std::io::Write::flush(&mut out)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "seconds": seconds,
        "peak_kib": peak_rss_kib(),
        "phases": {"read": read, "revision": begun - read, "cms": signed - begun, "write": seconds - signed},
    }))
}

const PYHANKO: &str = r#"
import resource, sys, time
from pyhanko.sign import signers
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
signer = signers.SimpleSigner.load(sys.argv[1], sys.argv[2], ca_chain_files=(sys.argv[3],))
with open(sys.argv[4], "rb") as inf, open(sys.argv[5], "wb") as outf:
    start = time.perf_counter()
    w = IncrementalPdfFileWriter(inf)
    signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="Signature1"), signer=signer, output=outf)
    seconds = time.perf_counter() - start
print('{"seconds": %f, "peak_kib": %d}' % (seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"#;

fn json_of(out: std::process::Output) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str(text.lines().last().unwrap_or("{}"))?)
}

fn signatures_per_second(spec: KeySpec, scheme: Scheme) -> anyhow::Result<f64> {
    // One container's HSM: a pool of two sessions (HSM_POOL_SIZE), two signing workers.
    let hsm = Arc::new(open_hsm()?);
    let key = hsm.generate_signing_key(spec, &format!("bench-{}", unique()))?;
    let count = Arc::new(AtomicU64::new(0));
    let window = Duration::from_secs(3);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (hsm, count, id) = (Arc::clone(&hsm), Arc::clone(&count), key.id.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let started = Instant::now();
                let mut n = 0u64;
                while started.elapsed() < window {
                    hsm.sign(&id, scheme, format!("message {n}").as_bytes())?;
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    hsm.destroy_key(&key.id)?;
    Ok(count.load(Ordering::Relaxed) as f64 / window.as_secs_f64())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sign") {
        println!("{}", child_sign(&args[1..])?);
        return Ok(());
    }
    gsign_tests::bench::require_optimized("signing");
    let hsm = open_hsm()?;
    // Files in memory (tmpfs) where there is one: disk write-back is noise that neither
    // signer controls, and both read and write the same way.
    let scratch = match std::path::Path::new("/dev/shm") {
        shm if shm.is_dir() => shm.to_path_buf(),
        _ => std::env::temp_dir(),
    };
    let work = scratch.join(format!("gsign-sign-bench-{}", unique()));
    std::fs::create_dir_all(&work)?;
    let path = |name: &str| work.join(name).to_string_lossy().into_owned();

    // The PKI: root and signer in the HSM; pyHanko's signer a software key the root certifies.
    let ca_key = hsm.generate_signing_key(KeySpec::Rsa3072, &format!("bench-ca-{}", unique()))?;
    let ca_signer = HsmSigner {
        hsm: &hsm,
        key_id: ca_key.id.clone(),
        scheme: Scheme::RsaPkcs1Sha256,
    };
    let ca = issue(
        &subject("CN=Bench Root", ca_key.spki_der.clone(), Profile::Ca),
        &Issuer {
            certificate: None,
            signer: &ca_signer,
        },
    )?;
    std::fs::write(path("ca.pem"), to_pem(&ca)?)?;
    let key = hsm.generate_signing_key(KeySpec::Rsa2048, &format!("bench-{}", unique()))?;
    let cert = issue(
        &subject(
            "CN=Bench Signer",
            key.spki_der.clone(),
            Profile::DocumentSigner,
        ),
        &Issuer {
            certificate: Some(&ca),
            signer: &ca_signer,
        },
    )?;
    std::fs::write(path("signer.pem"), to_pem(&cert)?)?;
    let openssl = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new("openssl").args(args).output()?;
        anyhow::ensure!(out.status.success(), "openssl {args:?}");
        Ok(())
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &path("py.key"),
    ])?;
    openssl(&[
        "pkey",
        "-in",
        &path("py.key"),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        &path("py.spki"),
    ])?;
    let py_cert = issue(
        &subject(
            "CN=Bench pyHanko",
            std::fs::read(path("py.spki"))?,
            Profile::DocumentSigner,
        ),
        &Issuer {
            certificate: Some(&ca),
            signer: &ca_signer,
        },
    )?;
    std::fs::write(path("py.pem"), to_pem(&py_cert)?)?;

    println!("size   | openssl sha256 | GSign sign (peak)   | pyHanko in-process (peak) | GSign/pyHanko | GSign/sha256");
    for mb in [1u64, 10, 100] {
        let input = path(&format!("{mb}mb.pdf"));
        make_pdf(std::path::Path::new(&input), (mb as usize) << 20)?;
        let (sha, _) = openssl_seconds(std::path::Path::new(&input))?;
        // Best of three runs each, as for openssl: the least disturbed run of each program.
        let best = |runs: Vec<serde_json::Value>| {
            runs.into_iter()
                .min_by(|a, b| {
                    a["seconds"]
                        .as_f64()
                        .partial_cmp(&b["seconds"].as_f64())
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .unwrap_or_default()
        };
        let ours = best(
            (0..3)
                .map(|_| {
                    json_of(
                        Command::new(std::env::current_exe()?)
                            .args(["--sign", &hex::encode(&key.id), &input, &path("ours.pdf")])
                            .args([path("signer.pem"), path("ca.pem")])
                            .output()?,
                    )
                })
                .collect::<anyhow::Result<_>>()?,
        );
        let theirs = best(
            (0..3)
                .map(|_| {
                    json_of(
                        Command::new(stack_var("GSIGN_PYTHON"))
                            .args([
                                "-c",
                                PYHANKO,
                                &path("py.key"),
                                &path("py.pem"),
                                &path("ca.pem"),
                                &input,
                                &path("theirs.pdf"),
                            ])
                            .output()?,
                    )
                })
                .collect::<anyhow::Result<_>>()?,
        );
        let secs = |v: &serde_json::Value| v["seconds"].as_f64().unwrap_or(f64::NAN);
        let mib = |v: &serde_json::Value| v["peak_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0;
        println!(
            "{mb:>3} MB | {sha:.3} s        | {:.3} s ({:.0} MiB)   | {:.3} s ({:.0} MiB)         | {:.2}x         | {:.1}x",
            secs(&ours),
            mib(&ours),
            secs(&theirs),
            mib(&theirs),
            secs(&ours) / secs(&theirs),
            secs(&ours) / sha,
        );
        let phase = |name: &str| ours["phases"][name].as_f64().unwrap_or(f64::NAN) * 1000.0;
        println!(
            "       GSign phases: read {:.0} ms, revision (parse || hash) {:.0} ms, CMS in the HSM {:.0} ms, write {:.0} ms",
            phase("read"),
            phase("revision"),
            phase("cms"),
            phase("write")
        );
    }
    for (spec, scheme, name) in [
        (KeySpec::Rsa2048, Scheme::RsaPssSha256, "RSA-2048 PSS"),
        (KeySpec::EcP256, Scheme::EcdsaSha256, "ECDSA P-256"),
    ] {
        println!(
            "HSM signatures/s, two workers, {name}: {:.0}",
            signatures_per_second(spec, scheme)?
        );
    }
    hsm.destroy_key(&key.id)?;
    hsm.destroy_key(&ca_key.id)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
