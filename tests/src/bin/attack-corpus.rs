//! Makes the attack corpus in `shared/signing/tests/corpus` (run it again to remake every
//! file): `cargo run -p gsign-tests --bin attack-corpus`.
//!
//! A PKI of its own with software keys (no HSM, so the files can be made anywhere), valid
//! until 2056: a root CA and a signer, ECDSA P-256. Two good files (one B-B signature; two
//! signers filling their fields on a prepared document, then the completion seal that locks
//! it) and every attack of `gsign_tests::attacks` applied to them. It writes `roots.pem`, the
//! PDFs, and `corpus.json`: for each file, how it was made and the verdict expected of our
//! verifier (`shared/signing/tests/attack_corpus.rs`) and of pyHanko (the end-to-end test
//! `verify::the_committed_attack_corpus_agrees_with_pyhanko`).

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use gsign_signing::form::{self, FieldFill};
use gsign_signing::pades::{self, SignatureInfo, DEFAULT_RESERVE};
use gsign_signing::x509::{issue, to_pem, Issuer, Profile, Subject};
use gsign_signing::{RawSigner, Scheme, SignError};
use gsign_tests::attacks;
use gsign_tests::pki::{fixture, signer_values, two_signers_and_the_seal};
use serde_json::json;
use x509_cert::Certificate;

struct SoftKey(EcdsaKeyPair);

impl SoftKey {
    fn new() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .expect("key");
        Self(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("key"),
        )
    }

    fn spki(&self) -> Vec<u8> {
        self.0
            .public_key()
            .as_der()
            .expect("SPKI")
            .as_ref()
            .to_vec()
    }
}

impl RawSigner for SoftKey {
    fn scheme(&self) -> Scheme {
        Scheme::EcdsaSha256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(self
            .0
            .sign(&SystemRandom::new(), message)
            .map_err(|e| SignError::Signer(e.to_string()))?
            .as_ref()
            .to_vec())
    }
}

fn certificate(
    name: &str,
    key: &SoftKey,
    profile: Profile,
    issuer: Option<(&Certificate, &SoftKey)>,
) -> Certificate {
    // 2026-01-01 to 2056-01-01: the corpus's verdicts do not expire with its certificates.
    let not_before = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    issue(
        &Subject {
            name: name.to_owned(),
            spki_der: key.spki(),
            serial: uuid::Uuid::new_v4().as_bytes().to_vec(),
            not_before,
            not_after: not_before + Duration::from_secs(30 * 365 * 86_400),
            profile,
            crl_url: None,
        },
        &Issuer {
            certificate: issuer.map(|(c, _)| c),
            signer: issuer.map_or(key as &dyn RawSigner, |(_, k)| k),
        },
    )
    .expect("certificate")
}

fn info(field: &str, name: &str, locks: bool) -> SignatureInfo {
    SignatureInfo {
        field_name: field.to_owned(),
        signer_name: name.to_owned(),
        reason: None,
        time: SystemTime::now(),
        locks_document: locks,
    }
}

fn main() {
    let out = gsign_tests::root().join("shared/signing/tests/corpus");
    std::fs::create_dir_all(&out).expect("corpus directory");
    let (root_key, signer_key) = (SoftKey::new(), SoftKey::new());
    let root = certificate("CN=GSign Corpus Root,O=GSign", &root_key, Profile::Ca, None);
    let signer = certificate(
        "CN=Corpus Signer,O=GSign",
        &signer_key,
        Profile::DocumentSigner,
        Some((&root, &root_key)),
    );
    let chain = [signer, root.clone()];
    std::fs::write(out.join("roots.pem"), to_pem(&root).expect("PEM")).expect("roots");
    let sign = |pdf: &[u8], info: &SignatureInfo, fills: &[FieldFill]| {
        pades::sign(pdf, info, fills, &chain, &signer_key, DEFAULT_RESERVE).expect("signed")
    };

    // One signature over a page that also carries an unused "shadow" content stream.
    let (with_shadow, shadow) = attacks::with_shadow_content(&fixture("one-page.pdf"));
    let single = sign(
        &with_shadow,
        &info("Signature1", "Corpus Signer", false),
        &[],
    );

    // Two signers on a prepared document with object streams, then the locking seal.
    let fields = two_signers_and_the_seal();
    let prepared = form::prepare(&fixture("object-streams.pdf"), &fields).expect("prepared");
    let first = sign(
        &prepared,
        &info("signer-1-signature", "One", false),
        &signer_values(1, None),
    );
    let second = sign(
        &first,
        &info("signer-2-signature", "Батбаяр Өлзий", false),
        &signer_values(2, Some("Батбаяр Өлзий")),
    );
    let sealed = sign(&second, &info("gsign-seal", "GSign", true), &[]);

    // (file, bytes, ours valid, pyHanko valid, how it was made)
    let corpus: Vec<(&str, Vec<u8>, bool, bool, &str)> = vec![
        ("valid-single.pdf", single.clone(), true, true,
         "one B-B signature by the corpus signer"),
        ("valid-two-signers-sealed.pdf", sealed.clone(), true, true,
         "a prepared document: two signers fill their fields and sign, then the seal locks it"),
        ("flipped-byte.pdf", attacks::flip_a_signed_byte(&single), false, false,
         "one byte of the first signed range flipped"),
        ("full-rewrite.pdf", attacks::full_rewrite(&single), false, false,
         "the signed file rewritten whole by lopdf (no incremental update)"),
        ("bytes-after-last-revision.pdf", attacks::bytes_after_the_last_revision(&single), false, true,
         "bytes appended that no revision accounts for; readers ignore them (pyHanko accepts), we refuse to vouch for them"),
        ("usf-no-byterange.pdf", attacks::usf_without_byte_range(&single), false, false,
         "universal signature forgery: an update redefines the signature dictionary without /ByteRange"),
        ("usf-empty-byterange.pdf", attacks::usf_empty_byte_range(&single), false, false,
         "universal signature forgery: /ByteRange [0 0 0 0]"),
        ("usf-empty-contents.pdf", attacks::usf_empty_contents(&single), false, false,
         "universal signature forgery: an empty /Contents"),
        ("usf-null-contents.pdf", attacks::usf_null_contents(&single), false, false,
         "universal signature forgery: /Contents null"),
        ("signature-wrapping.pdf", attacks::wrap_signature(&single), false, false,
         "signature wrapping: the second signed range moved past injected bytes, the dictionary redefined to point at it"),
        ("isa-free-text.pdf", attacks::add_free_text(&sealed), false, false,
         "incremental saving attack: a FreeText annotation added after the seal"),
        ("isa-overlay-widget.pdf", attacks::overlay_signature_widget(&sealed), false, false,
         "incremental saving attack: an unsigned signature widget whose appearance covers the page"),
        ("isa-field-filled-after-seal.pdf", attacks::fill_after_the_last_signature(&sealed, "signer-1-title"), false, false,
         "incremental saving attack: a text field given another value after the seal"),
        ("isa-root-swap.pdf", attacks::swap_root(&sealed), false, false,
         "incremental saving attack: the trailer's /Root pointed at a catalog copy that opens a link"),
        ("isa-info-swap.pdf", attacks::swap_info(&sealed), false, true,
         "incremental saving attack: the trailer's /Info pointed at a new dictionary (pyHanko lets document information change; we refuse any trailer change after a signature)"),
        ("isa-update-without-eof.pdf", attacks::update_without_eof(&sealed), false, true,
         "incremental saving attack: a full update (a FreeText annotation) appended without its %%EOF; pyHanko reads the file up to the last %%EOF and ignores the update, we refuse a file whose end no revision explains"),
        ("shadow-replace-page-content.pdf", attacks::shadow_replace_page_content(&single, shadow), false, false,
         "shadow attack (hide-and-replace): the page's /Contents pointed at a stream that was in the signed file all along"),
        ("shadow-redefine-object.pdf", attacks::shadow_redefine_object(&single, shadow), false, false,
         "shadow attack (replace): an update redefines an object of the signed revision under the same number"),
    ];
    let mut manifest = Vec::new();
    for (file, bytes, ours, pyhanko, how) in &corpus {
        write(&out, file, bytes);
        manifest.push(json!({
            "file": file,
            "valid": ours,
            "pyhanko_valid": pyhanko,
            "how": how,
        }));
    }
    std::fs::write(
        out.join("corpus.json"),
        serde_json::to_string_pretty(&manifest).expect("json") + "\n",
    )
    .expect("manifest");
    println!("{} files in {}", corpus.len(), out.display());
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write");
}
