//! Documents: what may be uploaded, how stored objects are named, when a document may be
//! deleted, and the file name a download carries. Plain rules, no I/O; the documents
//! functions call them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::FieldError;

/// The file types GSign accepts (seed 000: pdf, docx, xlsx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentType {
    /// PDF, stored and signed as it is.
    Pdf,
    /// Word (OOXML), converted to PDF at ingest.
    Docx,
    /// Excel (OOXML), converted to PDF at ingest.
    Xlsx,
}

impl DocumentType {
    /// Every accepted type.
    pub const ALL: [DocumentType; 3] = [DocumentType::Pdf, DocumentType::Docx, DocumentType::Xlsx];

    /// The stored name, also the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::Pdf => "pdf",
            DocumentType::Docx => "docx",
            DocumentType::Xlsx => "xlsx",
        }
    }

    /// The IANA media type.
    pub fn mime_type(self) -> &'static str {
        match self {
            DocumentType::Pdf => "application/pdf",
            DocumentType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocumentType::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }

    /// The type a declared `Content-Type` names (parameters such as `; charset` ignored).
    pub fn from_mime_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        Self::ALL
            .into_iter()
            .find(|t| t.mime_type().eq_ignore_ascii_case(media))
    }

    /// Whether ingest converts it to PDF.
    pub fn needs_conversion(self) -> bool {
        self != DocumentType::Pdf
    }
}

impl fmt::Display for DocumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocumentType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown document type {s:?} (pdf, docx, xlsx)"))
    }
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Declared; the upload or its ingest has not finished.
    Processing,
    /// Hashed, inspected (and converted): usable in envelopes.
    Ready,
    /// Refused at ingest; `failure_reason` says why.
    Failed,
}

impl DocumentStatus {
    /// Every status.
    pub const ALL: [DocumentStatus; 3] = [
        DocumentStatus::Processing,
        DocumentStatus::Ready,
        DocumentStatus::Failed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Processing => "processing",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }
}

impl FromStr for DocumentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown status {s:?} (processing, ready, failed)"))
    }
}

/// Why ingest refused a file, beyond what the PDF inspection itself reports (those codes come
/// from `gsign_pdf::Rejection::code`). Stable, machine-readable: clients switch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestFailure {
    /// The stored object's size differs from the declared size.
    SizeMismatch,
    /// The object is larger than the configured limit.
    TooLarge,
    /// The bytes are another accepted type than the one declared.
    TypeMismatch,
    /// The office converter is not installed where the function runs.
    ConverterUnavailable,
    /// The office converter failed, timed out, or produced no PDF.
    ConversionFailed,
}

impl IngestFailure {
    /// The stored reason code.
    pub fn code(self) -> &'static str {
        match self {
            IngestFailure::SizeMismatch => "size_mismatch",
            IngestFailure::TooLarge => "too_large",
            IngestFailure::TypeMismatch => "type_mismatch",
            IngestFailure::ConverterUnavailable => "converter_unavailable",
            IngestFailure::ConversionFailed => "conversion_failed",
        }
    }
}

/// Limits on what a document declaration may carry.
pub const MAX_NAME_CHARS: usize = 255;
/// Tags per document.
pub const MAX_TAGS: usize = 20;
/// Characters per tag.
pub const MAX_TAG_CHARS: usize = 50;
/// Serialized size of the metadata object.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A validated `POST /v1/documents` declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    /// Display name.
    pub name: String,
    /// The uploader's file name (for downloads of the original).
    pub original_name: String,
    /// The declared type.
    pub doc_type: DocumentType,
    /// The declared size in bytes; the presigned PUT is bound to it.
    pub size: u64,
    /// Labels for filtering.
    pub tags: Vec<String>,
    /// Free-form JSON object.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The raw declaration, as the client sent it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "name": "Lease 2027, Ulaanbaatar office",
    "file_name": "lease-2027.pdf",
    "content_type": "application/pdf",
    "size": 184_320,
    "tags": ["lease", "2027"],
    "metadata": {"contract_no": "UB-2027-014"},
}))]
pub struct DocumentDeclaration {
    /// Display name; defaults to the file name.
    #[serde(default)]
    pub name: Option<String>,
    /// The file's name on the uploader's machine.
    pub file_name: String,
    /// `application/pdf` or an OOXML type.
    pub content_type: String,
    /// Exact size in bytes.
    pub size: i64,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free-form JSON object.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl NewDocument {
    /// Checks a declaration against the rules and the upload limit, listing every problem.
    pub fn parse(input: DocumentDeclaration, max_bytes: u64) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let original_name = clean_text(&input.file_name);
        check_name(&original_name, "/file_name", &mut errors);
        let name = input.name.as_deref().map(clean_text);
        if let Some(name) = &name {
            check_name(name, "/name", &mut errors);
        }
        let doc_type = DocumentType::from_mime_type(&input.content_type);
        if doc_type.is_none() {
            errors.push(FieldError::new(
                "/content_type",
                format!(
                    "must be one of {}",
                    DocumentType::ALL.map(DocumentType::mime_type).join(", ")
                ),
            ));
        }
        let size = u64::try_from(input.size).ok().filter(|s| *s > 0);
        match size {
            None => errors.push(FieldError::new(
                "/size",
                "must be a positive number of bytes",
            )),
            Some(s) if s > max_bytes => errors.push(FieldError::new(
                "/size",
                format!("must be at most {max_bytes} bytes"),
            )),
            Some(_) => {}
        }
        let tags = tags_or_errors(&input.tags, "/tags", &mut errors);
        check_metadata(&input.metadata, "/metadata", &mut errors);
        match (doc_type, size) {
            (Some(doc_type), Some(size)) if errors.is_empty() => Ok(Self {
                name: name.unwrap_or_else(|| original_name.clone()),
                original_name,
                doc_type,
                size,
                tags,
                metadata: input.metadata,
            }),
            _ => Err(errors),
        }
    }
}

/// Trims and collapses inner whitespace runs (including control characters) to one space.
fn clean_text(raw: &str) -> String {
    raw.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_name(name: &str, pointer: &str, errors: &mut Vec<FieldError>) {
    if name.is_empty() {
        errors.push(FieldError::new(pointer, "must not be empty"));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new(
            pointer,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
}

/// Validates a display name for a rename (`PATCH`).
pub fn rename(raw: &str) -> Result<String, FieldError> {
    let name = clean_text(raw);
    let mut errors = Vec::new();
    check_name(&name, "/name", &mut errors);
    match errors.pop() {
        Some(err) => Err(err),
        None => Ok(name),
    }
}

/// Validates tags: trimmed, deduplicated in order, at most [`MAX_TAGS`] of at most
/// [`MAX_TAG_CHARS`] characters each.
pub fn tags(raw: &[String]) -> Result<Vec<String>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let tags = tags_or_errors(raw, "/tags", &mut errors);
    if errors.is_empty() {
        Ok(tags)
    } else {
        Err(errors)
    }
}

fn tags_or_errors(raw: &[String], pointer: &str, errors: &mut Vec<FieldError>) -> Vec<String> {
    if raw.len() > MAX_TAGS {
        errors.push(FieldError::new(pointer, format!("at most {MAX_TAGS} tags")));
    }
    let mut tags: Vec<String> = Vec::new();
    for (i, tag) in raw.iter().enumerate() {
        let tag = clean_text(tag);
        if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
            errors.push(FieldError::new(
                format!("{pointer}/{i}"),
                format!("must be 1 to {MAX_TAG_CHARS} characters"),
            ));
        } else if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// Validates a metadata object's size.
pub fn check_metadata(
    metadata: &serde_json::Map<String, serde_json::Value>,
    pointer: &str,
    errors: &mut Vec<FieldError>,
) {
    let bytes = serde_json::to_vec(metadata).map(|v| v.len()).unwrap_or(0);
    if bytes > MAX_METADATA_BYTES {
        errors.push(FieldError::new(
            pointer,
            format!("must serialise to at most {MAX_METADATA_BYTES} bytes"),
        ));
    }
}

/// How stored objects are named: per organization and document, so a prefix lists one
/// tenant's or one document's objects, and an object's key alone says whose it is.
/// The Redis key of a document's cached metadata (seed 000's `cache:document:{id}`); whoever
/// changes a document row deletes it.
pub fn cache_key(id: Uuid) -> String {
    format!("cache:document:{id}")
}

pub mod keys {
    use super::*;

    /// The prefix the bucket notifies the ingest queue about (template.yaml's filter).
    pub const UPLOAD_PREFIX: &str = "uploads/";

    /// Where the client's upload goes: `uploads/{org}/{document}/original.{ext}`.
    pub fn original(org: Uuid, document: Uuid, doc_type: DocumentType) -> String {
        format!(
            "{UPLOAD_PREFIX}{org}/{document}/original.{}",
            doc_type.as_str()
        )
    }

    /// Where a converted PDF goes: outside the upload prefix, so it does not trigger ingest.
    pub fn converted(org: Uuid, document: Uuid) -> String {
        format!("documents/{org}/{document}/converted.pdf")
    }

    /// The organization and document of an upload key, or `None` for any other key.
    pub fn parse_upload(key: &str) -> Option<(Uuid, Uuid)> {
        let rest = key.strip_prefix(UPLOAD_PREFIX)?;
        let mut parts = rest.split('/');
        let org = parts.next()?.parse().ok()?;
        let document = parts.next()?.parse().ok()?;
        let file = parts.next()?;
        (file.starts_with("original.") && parts.next().is_none()).then_some((org, document))
    }

    /// An S3 event's object key as stored: S3 URL-encodes keys in events (a space as `+`),
    /// and moto also encodes `/`.
    pub fn decode_event_key(raw: &str) -> Option<String> {
        let plus_as_space = raw.replace('+', " ");
        percent_encoding::percent_decode_str(&plus_as_space)
            .decode_utf8()
            .ok()
            .map(|k| k.into_owned())
    }
}

/// Why a document may not be deleted now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionBlocker {
    /// An envelope refers to it.
    InUse,
    /// Under legal hold.
    LegalHold,
    /// Under retention until this time.
    Retained(DateTime<Utc>),
}

impl DeletionBlocker {
    /// Problem type suffix.
    pub fn slug(&self) -> &'static str {
        match self {
            DeletionBlocker::InUse => "document-in-use",
            DeletionBlocker::LegalHold => "document-under-legal-hold",
            DeletionBlocker::Retained(_) => "document-under-retention",
        }
    }

    /// What the client is told.
    pub fn detail(&self) -> String {
        match self {
            DeletionBlocker::InUse => {
                "An envelope uses this document; delete or finish the envelope first.".to_owned()
            }
            DeletionBlocker::LegalHold => {
                "The document is under legal hold; an admin must release the hold first.".to_owned()
            }
            DeletionBlocker::Retained(until) => format!(
                "The document must be retained until {}.",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// The first reason a document cannot be deleted at `now`, if any.
pub fn deletion_blocker(
    legal_hold: bool,
    retention_until: Option<DateTime<Utc>>,
    envelopes: i64,
    now: DateTime<Utc>,
) -> Option<DeletionBlocker> {
    if legal_hold {
        return Some(DeletionBlocker::LegalHold);
    }
    if let Some(until) = retention_until.filter(|until| *until > now) {
        return Some(DeletionBlocker::Retained(until));
    }
    (envelopes > 0).then_some(DeletionBlocker::InUse)
}

/// How long originals and results are kept once an envelope completes (seed 003).
pub const RETENTION_YEARS: i32 = 7;

/// The retention end for something completed at `completed_at`.
pub fn retention_until(completed_at: DateTime<Utc>) -> DateTime<Utc> {
    completed_at
        .checked_add_months(chrono::Months::new(12 * RETENTION_YEARS as u32))
        .unwrap_or(completed_at)
}

/// A `Content-Disposition: attachment` value that is safe for any name: an ASCII fallback
/// `filename` (quotes, backslashes, separators and controls replaced) and the exact name as
/// RFC 6266 / RFC 8187 `filename*`.
pub fn content_disposition(name: &str, extension: &str) -> String {
    let base = clean_text(name);
    let base = base
        .rsplit_once('.')
        .filter(|(_, ext)| ext.eq_ignore_ascii_case(extension))
        .map(|(stem, _)| stem.to_owned())
        .unwrap_or(base);
    let base: String = base.chars().take(150).collect();
    let full = format!(
        "{}.{extension}",
        if base.is_empty() { "document" } else { &base }
    );
    let ascii: String = full
        .chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '/' | ';' | '%') => c,
            _ => '_',
        })
        .collect();
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encoding::utf8_percent_encode(&full, ATTR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration(size: i64, content_type: &str) -> DocumentDeclaration {
        DocumentDeclaration {
            name: None,
            file_name: "  Гэрээ\n2026.pdf ".to_owned(),
            content_type: content_type.to_owned(),
            size,
            tags: vec!["hr".to_owned(), " hr ".to_owned(), "2026".to_owned()],
            metadata: serde_json::Map::new(),
        }
    }

    #[test]
    fn a_declaration_is_cleaned_and_typed_from_its_content_type() {
        let doc =
            NewDocument::parse(declaration(1024, "application/pdf"), 25 << 20).expect("valid");
        assert_eq!(doc.original_name, "Гэрээ 2026.pdf");
        assert_eq!(
            doc.name, "Гэрээ 2026.pdf",
            "the name defaults to the file name"
        );
        assert_eq!(doc.doc_type, DocumentType::Pdf);
        assert_eq!(doc.tags, ["hr", "2026"], "duplicates removed, order kept");
    }

    #[test]
    fn every_problem_of_a_declaration_is_listed() {
        let mut input = declaration(0, "text/plain");
        input.file_name = " ".to_owned();
        input.tags = vec![String::new()];
        let errors = NewDocument::parse(input, 10).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/file_name", "/content_type", "/size", "/tags/0"]
        );
    }

    #[test]
    fn sizes_above_the_limit_are_refused_with_the_limit() {
        let errors =
            NewDocument::parse(declaration(11, "application/pdf"), 10).expect_err("too large");
        assert_eq!(errors[0].pointer, "/size");
        assert!(errors[0].detail.contains("10 bytes"));
    }

    #[test]
    fn office_types_are_accepted_by_their_exact_media_type() {
        for t in [DocumentType::Docx, DocumentType::Xlsx] {
            let doc = NewDocument::parse(declaration(5, t.mime_type()), 10).expect("valid");
            assert_eq!(doc.doc_type, t);
            assert!(t.needs_conversion());
        }
        assert_eq!(
            DocumentType::from_mime_type("Application/PDF; charset=binary"),
            Some(DocumentType::Pdf)
        );
        assert_eq!(DocumentType::from_mime_type("application/msword"), None);
    }

    #[test]
    fn upload_keys_round_trip_and_nothing_else_parses() {
        let (org, doc) = (Uuid::new_v4(), Uuid::new_v4());
        let key = keys::original(org, doc, DocumentType::Docx);
        assert_eq!(keys::parse_upload(&key), Some((org, doc)));
        assert_eq!(keys::parse_upload(&keys::converted(org, doc)), None);
        assert_eq!(keys::parse_upload(&format!("{key}/extra")), None);
        assert_eq!(keys::parse_upload("uploads/x/y/original.pdf"), None);
    }

    #[test]
    fn event_keys_are_url_decoded_like_s3_and_moto_encode_them() {
        assert_eq!(
            keys::decode_event_key("uploads%2Fa%2Fb+c.pdf").as_deref(),
            Some("uploads/a/b c.pdf")
        );
        assert_eq!(keys::decode_event_key("%FF"), None, "not UTF-8");
    }

    #[test]
    fn legal_hold_then_retention_then_use_block_deletion() {
        let now = Utc::now();
        let later = now + chrono::Duration::days(1);
        assert_eq!(
            deletion_blocker(true, Some(later), 1, now),
            Some(DeletionBlocker::LegalHold)
        );
        assert_eq!(
            deletion_blocker(false, Some(later), 1, now),
            Some(DeletionBlocker::Retained(later))
        );
        assert_eq!(
            deletion_blocker(false, Some(now - chrono::Duration::days(1)), 1, now),
            Some(DeletionBlocker::InUse),
            "an expired retention no longer blocks"
        );
        assert_eq!(deletion_blocker(false, None, 0, now), None);
    }

    #[test]
    fn retention_is_seven_calendar_years() {
        let completed = DateTime::parse_from_rfc3339("2024-02-29T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(
            retention_until(completed).to_rfc3339(),
            "2031-02-28T12:00:00+00:00"
        );
    }

    #[test]
    fn download_names_are_safe_headers_that_keep_the_real_name() {
        assert_eq!(
            content_disposition("Гэрээ \"final\"; v2.PDF", "pdf"),
            "attachment; filename=\"_____ _final__ v2.pdf\"; filename*=UTF-8''%D0%93%D1%8D%D1%80%D1%8D%D1%8D%20%22final%22%3B%20v2.pdf"
        );
        assert_eq!(
            content_disposition("report.docx", "pdf"),
            "attachment; filename=\"report.docx.pdf\"; filename*=UTF-8''report.docx.pdf"
        );
        let header = content_disposition("a\r\nSet-Cookie: x=1", "pdf");
        assert!(!header.contains('\r') && !header.contains('\n'));
        assert!(content_disposition("", "pdf").contains("document.pdf"));
    }
}
