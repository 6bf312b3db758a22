//! The certificate of completion, judged by others: qpdf finds it sound, pdffonts sees the
//! embedded subset with its ToUnicode map, pdftotext reads every name (Mongolian included),
//! hash and event back, and once sealed through the HSM pyHanko trusts it.

use std::time::SystemTime;

use chrono::{Duration, Utc};
use gsign_platform::hsm_keys::{KeySpec, Scheme};
use gsign_platform::pades_signer::{sign_revision, Level, SigningKey};
use gsign_signing::completion::{certificate_pdf, CompletionRecord, EventRecord, RecipientRecord};
use gsign_signing::pades::SignatureInfo;
use gsign_tests::pki::{drawn_signature_png, run, TestPki};

fn record() -> CompletionRecord {
    let start = Utc::now() - Duration::hours(3);
    let recipient = |name: &str, email: &str, role: &str, png: bool| {
        RecipientRecord {
        name: name.to_owned(),
        email: email.to_owned(),
        role: role.to_owned(),
        auth_method: "email".to_owned(),
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36".to_owned()),
        sent_at: Some(start),
        viewed_at: Some(start + Duration::minutes(5)),
        signed_at: Some(start + Duration::minutes(9)),
        signature_png: png.then(|| drawn_signature_png(1.5)),
    }
    };
    CompletionRecord {
        envelope_id: "0b9c6f0e-4a53-4f0b-9a55-2d6f3c1b7e11".to_owned(),
        envelope_name: "Түрээсийн гэрээ".to_owned(),
        document_name: "lease.pdf".to_owned(),
        original_sha256: "a".repeat(64),
        final_sha256: "b".repeat(64),
        sender: "Ana".to_owned(),
        organization: "Говь Трейд ХХК".to_owned(),
        completed_at: start + Duration::hours(2),
        recipients: vec![
            recipient("Батбаяр Өлзий", "bat@example.mn", "signer", true),
            recipient("Оюунчимэг Үүрийнтуяа", "oyun@example.mn", "signer", true),
            recipient("Legal", "legal@example.com", "cc", false),
        ],
        events: (1..=80)
            .map(|sequence| EventRecord {
                sequence,
                at: start + Duration::seconds(i64::from(sequence) * 30),
                action: if sequence == 80 {
                    "envelope.completed".to_owned()
                } else {
                    format!("step.{sequence}")
                },
                actor: "system".to_owned(),
                ip: None,
                hash: format!("{sequence:064x}"),
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_certificate_of_completion_reads_back_in_any_script_and_can_be_sealed() {
    let mut pki = TestPki::new();
    let pdf = certificate_pdf(&record()).expect("certificate");
    let file = pki.write("certificate.pdf", &pdf);
    let (ok, check) = run("qpdf", &["--check", &file]);
    assert!(ok, "{check}");
    let (_, info) = run("pdfinfo", &[&file]);
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("page count");
    assert!(pages >= 2, "80 events need more than a page:\n{info}");
    let (_, fonts) = run("pdffonts", &[&file]);
    assert!(
        fonts.lines().any(|l| l.contains("+DejaVuSans")
            && l.split_whitespace()
                .rev()
                .take(5)
                .filter(|c| *c == "yes")
                .count()
                == 3),
        "{fonts}"
    );
    let (ok, text) = run("pdftotext", &["-layout", &file, "-"]);
    assert!(ok, "{text}");
    for expected in [
        "Certificate of Completion",
        "Батбаяр Өлзий",
        "Оюунчимэг Үүрийнтуяа",
        "Говь Трейд ХХК",
        &"a".repeat(64),
        &"b".repeat(64),
        "envelope.completed",
        "page 2 of",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Sealed like the final document.
    let (key, chain) = pki.signer(KeySpec::Rsa3072, "CN=GSign Seal,O=Говь Трейд ХХК");
    let sealed = sign_revision(
        &pdf,
        &SignatureInfo {
            field_name: "gsign-seal".to_owned(),
            signer_name: "GSign".to_owned(),
            reason: Some("Certificate of completion".to_owned()),
            time: SystemTime::now(),
            locks_document: false,
        },
        &[],
        &SigningKey {
            hsm: &pki.hsm,
            key_id: key.id.clone(),
            scheme: Scheme::RsaPssSha256,
            chain,
        },
        Level::BB,
        None,
    )
    .await
    .expect("sealed");
    let file = pki.write("certificate-sealed.pdf", &sealed);
    let (ok, report) = pki.pyhanko(&file);
    assert!(ok && report.contains("INTACT:TRUSTED"), "{report}");
}
