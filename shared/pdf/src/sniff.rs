//! What kind of file an upload is, from its bytes alone (never its name or declared type).

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::Rejection;

/// The file types GSign accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A PDF document.
    Pdf,
    /// A Word (OOXML) document.
    Docx,
    /// An Excel (OOXML) workbook.
    Xlsx,
}

impl FileKind {
    /// The short name: `"pdf"`, `"docx"` or `"xlsx"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Docx => "docx",
            FileKind::Xlsx => "xlsx",
        }
    }

    /// The IANA media type.
    pub fn mime_type(&self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// How far into the file readers look for `%PDF-` (Acrobat accepts junk before it).
const PDF_HEADER_WINDOW: usize = 1024;

/// More entries than any real DOCX/XLSX has; a bigger archive is refused unread.
const MAX_ZIP_ENTRIES: usize = 10_000;

/// More than any real DOCX/XLSX decompresses to, as declared by the central directory.
const MAX_ZIP_DECLARED_BYTES: u128 = 1 << 30;

/// Decide what `bytes` is.
///
/// PDF: `%PDF-` within the first 1024 bytes. DOCX/XLSX: a ZIP whose central directory lists
/// `[Content_Types].xml` and `word/document.xml` or `xl/workbook.xml`. Nothing is
/// decompressed here; ZIPs with absurd entry counts or declared sizes are refused
/// as [`Rejection::ResourceLimit`] (a zip bomb), before anyone unpacks them.
pub fn sniff(bytes: &[u8]) -> Result<FileKind, Rejection> {
    if bytes.is_empty() {
        return Err(Rejection::Empty);
    }
    let head = &bytes[..bytes.len().min(PDF_HEADER_WINDOW)];
    if find(head, b"%PDF-").is_some() {
        return Ok(FileKind::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return sniff_zip(bytes);
    }
    Err(unsupported(guess(bytes)))
}

fn unsupported(detected: &str) -> Rejection {
    Rejection::UnsupportedType {
        detected: detected.to_string(),
    }
}

fn sniff_zip(bytes: &[u8]) -> Result<FileKind, Rejection> {
    if declared_entries(bytes).is_some_and(|entries| entries > MAX_ZIP_ENTRIES) {
        return Err(zip_bomb("too many entries"));
    }
    // The zip crate is well fuzzed, but this runs in the Lambda process: a panic must not
    // take it down.
    let names = std::panic::catch_unwind(|| read_zip_directory(bytes));
    let (names, declared) = match names {
        Ok(Ok(found)) => found,
        Ok(Err(ZipProblem::Bomb(why))) => return Err(zip_bomb(why)),
        Ok(Err(ZipProblem::Unreadable)) | Err(_) => return Err(unsupported("zip")),
    };
    if declared.is_some_and(|total| total > MAX_ZIP_DECLARED_BYTES) {
        return Err(zip_bomb("declared uncompressed size is too large"));
    }
    let has = |name: &str| names.iter().any(|n| n == name);
    if !has("[Content_Types].xml") {
        return Err(unsupported("zip"));
    }
    match (has("word/document.xml"), has("xl/workbook.xml")) {
        (true, false) => Ok(FileKind::Docx),
        (false, true) => Ok(FileKind::Xlsx),
        // Neither, or an ambiguous archive claiming to be both.
        _ => Err(unsupported("zip")),
    }
}

enum ZipProblem {
    Unreadable,
    Bomb(&'static str),
}

fn zip_bomb(why: &str) -> Rejection {
    Rejection::ResourceLimit {
        detail: format!("zip archive refused: {why}"),
    }
}

/// The entry names and the declared total uncompressed size (when every entry declares one).
fn read_zip_directory(bytes: &[u8]) -> Result<(Vec<String>, Option<u128>), ZipProblem> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| ZipProblem::Unreadable)?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ZipProblem::Bomb("too many entries"));
    }
    let names = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|name| name.into_owned())
        .collect();
    Ok((names, archive.decompressed_size()))
}

/// The entry count of the classic end-of-central-directory record, read without parsing the
/// directory itself. `None` when there is no such record or it defers to ZIP64.
fn declared_entries(bytes: &[u8]) -> Option<usize> {
    // The record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
    const RECORD: usize = 22;
    let tail_start = bytes.len().saturating_sub(RECORD + usize::from(u16::MAX));
    let tail = &bytes[tail_start..];
    let at = rfind(tail, b"PK\x05\x06")?;
    let entries = tail.get(at + 10..at + 12)?;
    let entries = u16::from_le_bytes([entries[0], entries[1]]);
    (entries != u16::MAX).then_some(usize::from(entries))
}

/// A short guess at what an unsupported file is.
fn guess(bytes: &[u8]) -> &'static str {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"PK\x05\x06", "zip"),
        (b"PK\x07\x08", "zip"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xff\xd8\xff", "jpeg"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2 (legacy office)"),
    ];
    for (magic, name) in SIGNATURES {
        if bytes.starts_with(magic) {
            return name;
        }
    }
    if looks_like_text(bytes) {
        "text"
    } else {
        "unknown"
    }
}

/// UTF-8 (a sequence cut at the end of the sample is fine) without control characters other
/// than white space.
fn looks_like_text(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(4096)];
    let valid = match std::str::from_utf8(sample) {
        Ok(text) => text,
        // A multi-byte character cut by the sample boundary is still text.
        Err(error) if error.error_len().is_none() => {
            match std::str::from_utf8(&sample[..error.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(bytes: &[u8]) -> String {
        match sniff(bytes) {
            Err(Rejection::UnsupportedType { detected }) => detected,
            other => panic!("expected unsupported type, got {other:?}"),
        }
    }

    #[test]
    fn pdf_header_may_follow_junk_within_1024_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Ok(FileKind::Pdf));
        let mut late = vec![b' '; 1000];
        late.extend_from_slice(b"%PDF-1.4");
        assert_eq!(sniff(&late), Ok(FileKind::Pdf));
        let mut too_late = vec![b' '; 1020];
        too_late.extend_from_slice(b"%PDF-1.4");
        assert_eq!(detected(&too_late), "text");
    }

    #[test]
    fn empty_and_common_types() {
        assert_eq!(sniff(b""), Err(Rejection::Empty));
        assert_eq!(detected(b"hello, world\n"), "text");
        assert_eq!(detected(b"\x89PNG\r\n\x1a\n\0\0"), "png");
        assert_eq!(detected(b"\xff\xd8\xff\xe0"), "jpeg");
        assert_eq!(
            detected(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0"),
            "ole2 (legacy office)"
        );
        assert_eq!(detected(b"\0\x01\x02binary"), "unknown");
        assert_eq!(detected(b"PK\x03\x04 not really a zip"), "zip");
    }

    #[test]
    fn text_cut_inside_a_character_is_text() {
        let mut text = "a".repeat(4095).into_bytes();
        text.extend_from_slice("ө".as_bytes());
        assert_eq!(detected(&text), "text");
    }

    #[test]
    fn zip_with_absurd_entry_count_is_refused_unread() {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        bytes.extend_from_slice(&60_000u16.to_le_bytes());
        bytes.extend_from_slice(&60_000u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 10]);
        assert!(matches!(
            sniff(&bytes),
            Err(Rejection::ResourceLimit { .. })
        ));
    }

    #[test]
    fn kinds_name_themselves() {
        assert_eq!(FileKind::Docx.as_str(), "docx");
        assert_eq!(FileKind::Pdf.mime_type(), "application/pdf");
        assert!(FileKind::Xlsx.mime_type().ends_with("spreadsheetml.sheet"));
    }
}
