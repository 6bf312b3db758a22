//! Every fixture through `sniff` and `inspect`, with its exact outcome; qpdf as a second opinion
//! on the good ones.

use std::path::PathBuf;
use std::process::Command;

use gsign_pdf::{inspect, sniff, FileKind, Limits, PageInfo, PdfInfo, Rejection};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).expect("fixture exists")
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn page(width: f64, height: f64, rotation: u16) -> PageInfo {
    PageInfo {
        width,
        height,
        rotation,
    }
}

const A4: (f64, f64) = (595.28, 841.89);

fn accepted(name: &str) -> PdfInfo {
    match inspect(&fixture(name), &Limits::default()) {
        Ok(info) => info,
        Err(rejection) => panic!("{name}: rejected: {rejection}"),
    }
}

fn rejected(name: &str) -> Rejection {
    match inspect(&fixture(name), &Limits::default()) {
        Ok(info) => panic!("{name}: accepted: {info:?}"),
        Err(rejection) => rejection,
    }
}

#[test]
fn one_page() {
    let info = accepted("one-page.pdf");
    assert_eq!(
        info,
        PdfInfo {
            pdf_version: "1.7".to_string(),
            page_count: 1,
            pages: vec![page(A4.0, A4.1, 0)],
            object_count: 5,
            linearized: false,
            has_xref_stream: false,
            has_object_streams: false,
            signatures: 0,
            certification: None,
        }
    );
}

#[test]
fn three_pages_rotated_with_inherited_boxes() {
    let info = accepted("three-pages-rotated.pdf");
    assert_eq!(info.page_count, 3);
    assert_eq!(
        info.pages,
        vec![
            page(612.0, 792.0, 0),
            page(A4.0, A4.1, 90),
            // MediaBox inherited (Letter), CropBox [36 36 576 756], /Rotate -90 inherited.
            page(540.0, 720.0, 270),
        ]
    );
    assert!(!info.has_object_streams && !info.has_xref_stream && !info.linearized);
}

#[test]
fn object_streams() {
    let info = accepted("object-streams.pdf");
    assert_eq!(info.pages, accepted("three-pages-rotated.pdf").pages);
    assert!(info.has_xref_stream);
    assert!(info.has_object_streams);
    assert!(!info.linearized);
}

#[test]
fn linearized() {
    let info = accepted("linearized.pdf");
    assert_eq!(info.pages, vec![page(A4.0, A4.1, 0)]);
    assert!(info.linearized);
}

#[test]
fn bad_fixtures_are_refused_with_their_code() {
    for (name, code) in [
        ("encrypted.pdf", "pdf_encrypted"),
        // lopdf decrypts this one and drops /Encrypt from the trailer.
        ("encrypted-no-password.pdf", "pdf_encrypted"),
        ("truncated.pdf", "pdf_truncated"),
        ("not-a-pdf.pdf", "unsupported_type"),
        ("deep-nesting.pdf", "pdf_too_deep"),
        ("xref-w000-huge-index.pdf", "pdf_damaged"),
        ("broken-inline-image.pdf", "pdf_damaged"),
        ("mutated.pdf", "pdf_damaged"),
        ("flate-bomb.pdf", "pdf_decompression_bomb"),
        ("sample.docx", "unsupported_type"),
        ("sample.xlsx", "unsupported_type"),
    ] {
        let rejection = rejected(name);
        assert_eq!(rejection.code(), code, "{name}: {rejection}");
    }
    assert_eq!(
        rejected("not-a-pdf.pdf"),
        Rejection::UnsupportedType {
            detected: "text".to_string()
        }
    );
    assert_eq!(
        rejected("deep-nesting.pdf"),
        Rejection::TooDeep { limit: 64 }
    );
    assert_eq!(
        rejected("broken-inline-image.pdf"),
        Rejection::Damaged {
            detail: "the content of page 1 is malformed".to_string()
        }
    );
}

#[test]
fn sniff_every_fixture() {
    for (name, kind) in [
        ("one-page.pdf", FileKind::Pdf),
        ("three-pages-rotated.pdf", FileKind::Pdf),
        ("object-streams.pdf", FileKind::Pdf),
        ("linearized.pdf", FileKind::Pdf),
        ("encrypted.pdf", FileKind::Pdf),
        ("encrypted-no-password.pdf", FileKind::Pdf),
        ("truncated.pdf", FileKind::Pdf),
        ("deep-nesting.pdf", FileKind::Pdf),
        ("xref-w000-huge-index.pdf", FileKind::Pdf),
        ("broken-inline-image.pdf", FileKind::Pdf),
        ("mutated.pdf", FileKind::Pdf),
        ("flate-bomb.pdf", FileKind::Pdf),
        ("sample.docx", FileKind::Docx),
        ("sample.xlsx", FileKind::Xlsx),
    ] {
        assert_eq!(sniff(&fixture(name)), Ok(kind), "{name}");
    }
    assert_eq!(
        sniff(&fixture("not-a-pdf.pdf")),
        Err(Rejection::UnsupportedType {
            detected: "text".to_string()
        })
    );
}

#[test]
fn limits_apply_to_good_files() {
    let limits = |change: fn(&mut Limits)| {
        let mut limits = Limits::default();
        change(&mut limits);
        limits
    };
    let three = fixture("three-pages-rotated.pdf");
    assert_eq!(
        inspect(&three, &limits(|l| l.max_pages = 2)),
        Err(Rejection::TooManyPages { limit: 2 })
    );
    assert!(inspect(&three, &limits(|l| l.max_pages = 3)).is_ok());
    assert_eq!(
        inspect(&three, &limits(|l| l.max_objects = 4)),
        Err(Rejection::TooManyObjects { limit: 4 })
    );
    assert_eq!(
        inspect(&three, &limits(|l| l.max_depth = 1)),
        Err(Rejection::TooDeep { limit: 1 })
    );
    // Three pages share one 35-byte content stream: 105 bytes decoded in all.
    assert_eq!(
        inspect(&three, &limits(|l| l.max_decompressed_bytes = 100)),
        Err(Rejection::DecompressionBomb { limit: 100 })
    );
    assert!(inspect(&three, &limits(|l| l.max_decompressed_bytes = 108)).is_ok());
    // The object stream itself is decoded against the budget during the load.
    let streams = fixture("object-streams.pdf");
    assert_eq!(
        inspect(&streams, &limits(|l| l.max_decompressed_bytes = 10)),
        Err(Rejection::DecompressionBomb { limit: 10 })
    );
    assert_eq!(
        inspect(&three, &limits(|l| l.timeout = std::time::Duration::ZERO)),
        Err(Rejection::Timeout { seconds: 0 })
    );
}

/// qpdf (if installed) agrees that the fixtures we accept are fine.
#[test]
fn qpdf_agrees_on_the_good_ones() {
    let good = [
        "one-page.pdf",
        "three-pages-rotated.pdf",
        "object-streams.pdf",
        "linearized.pdf",
    ];
    let Ok(version) = Command::new("qpdf").arg("--version").output() else {
        eprintln!("qpdf is not installed: skipping the qpdf cross-check");
        return;
    };
    assert!(version.status.success());
    for name in good {
        let check = Command::new("qpdf")
            .arg("--check")
            .arg(fixture_path(name))
            .output()
            .expect("qpdf runs");
        assert!(
            check.status.success(),
            "qpdf --check {name}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}
