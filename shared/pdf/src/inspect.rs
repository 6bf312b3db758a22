//! Judge an untrusted PDF: does it load as written, within limits, and what pages does it have.
//!
//! Where each limit is enforced:
//!
//! | limit                    | enforced                                                        |
//! |--------------------------|-----------------------------------------------------------------|
//! | `max_depth`              | before parsing, by a byte scan (`inspect/depth.rs`); during the load, on every object lopdf parses (load filter); after the load, on the trailer and the page tree. lopdf's own parser also refuses more than 100 levels. |
//! | `max_objects`            | during the load (load filter, aborts the load at the limit)     |
//! | `max_decompressed_bytes` | during the load for object streams (load filter, one budget for the whole file) and after it for page content streams; xref streams are bounded per stream by lopdf's `max_decompressed_size` only |
//! | `max_pages`              | after the load, while walking the page tree                     |
//! | `timeout`                | after the load, between pages; the load itself only in the child process |
//! | `max_memory_bytes`       | only in the child process ([`crate::sandbox`])                  |
//!
//! lopdf parses the cross-reference data and every object before handing back a document, and
//! offers no cancellation: a file with a huge cross-reference table, or one whose objects take
//! long to parse, costs its time and memory inside `Document::load`. That is why uploads are
//! inspected in a child process ([`crate::inspect_isolated`]) with a wall-clock timeout and
//! RLIMIT_AS / RLIMIT_CPU: the backstop for whatever this module cannot bound in-process,
//! including an abort (stack overflow, failed allocation) that `catch_unwind` cannot catch.

mod depth;
mod load;
mod pages;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use crate::rejection::Rejection;
use crate::sniff::{sniff, FileKind};

/// Limits on what an inspection may cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Most pages a document may have.
    pub max_pages: u32,
    /// Most indirect objects (including those inside object streams) a document may have.
    pub max_objects: usize,
    /// Deepest nesting of arrays and dictionaries, and of the page tree.
    pub max_depth: usize,
    /// Most bytes the inspection may decompress over the whole file.
    pub max_decompressed_bytes: u64,
    /// Longest an inspection may take.
    pub timeout: Duration,
    /// Most address space the inspecting child process may use (RLIMIT_AS).
    pub max_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pages: 2000,
            max_objects: 500_000,
            max_depth: 64,
            max_decompressed_bytes: 256 * 1024 * 1024,
            timeout: Duration::from_secs(20),
            max_memory_bytes: 1024 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The timeout in whole seconds, rounded up.
    pub(crate) fn timeout_seconds(&self) -> u64 {
        let whole = self.timeout.as_secs();
        if self.timeout.subsec_nanos() > 0 {
            whole.saturating_add(1)
        } else {
            whole
        }
    }
}

/// What an accepted PDF is like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdfInfo {
    /// The version in the file header, e.g. `"1.7"`.
    pub pdf_version: String,
    /// The number of pages.
    pub page_count: u32,
    /// Every page, in order.
    pub pages: Vec<PageInfo>,
    /// The number of indirect objects loaded.
    pub object_count: usize,
    /// Whether the file starts with a linearization parameter dictionary.
    pub linearized: bool,
    /// Whether the file has a cross-reference stream.
    pub has_xref_stream: bool,
    /// Whether the file has object streams.
    pub has_object_streams: bool,
    /// Signed signature fields it carries already (signed elsewhere before upload).
    #[serde(default)]
    pub signatures: u32,
    /// The DocMDP permissions of a certified document (1, 2 or 3), `None` when not certified.
    #[serde(default)]
    pub certification: Option<i64>,
}

/// The size and orientation of a page.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PageInfo {
    /// Width in points of the CropBox (clipped to the MediaBox) if there is one, else of the
    /// MediaBox, before rotation. Rounded to 1/1000 pt: lopdf reads reals as `f32`.
    pub width: f64,
    /// Height in points, like `width`.
    pub height: f64,
    /// Clockwise rotation for display: 0, 90, 180 or 270.
    pub rotation: u16,
}

/// Judge `bytes` as a PDF upload. Never panics: a panic inside lopdf becomes
/// [`Rejection::Damaged`].
///
/// Refuses non-PDFs, encrypted files, files whose cross-reference data lopdf had to repair,
/// files with objects that do not parse, broken page trees or page content, and anything over
/// `limits` (see the module documentation for which limits hold in-process).
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<PdfInfo, Rejection> {
    let started = Instant::now();
    match sniff(bytes)? {
        FileKind::Pdf => {}
        other => {
            return Err(Rejection::UnsupportedType {
                detected: other.as_str().to_string(),
            })
        }
    }
    // ISO 32000-1 7.5.5: the last line is %%EOF; readers allow up to 1 KiB after it. A file
    // without one was cut off (an interrupted upload), which users should hear as such
    // rather than as "damaged".
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if !tail.windows(5).any(|w| w == b"%%EOF") {
        return Err(Rejection::Truncated);
    }
    // Before lopdf's recursive parser sees the bytes.
    if depth::scan_exceeds(bytes, limits.max_depth) {
        return Err(Rejection::TooDeep {
            limit: limits.max_depth,
        });
    }
    let loaded = load::load(bytes, limits)?;
    let document = &loaded.document;
    if depth::dictionary_exceeds(&document.trailer, limits.max_depth) {
        return Err(Rejection::TooDeep {
            limit: limits.max_depth,
        });
    }
    let deadline = Deadline { started, limits };
    let pages = pages::read_pages(document, limits, loaded.decompress_budget, &deadline)?;
    let page_count = u32::try_from(pages.len()).map_err(|_| Rejection::TooManyPages {
        limit: limits.max_pages,
    })?;
    let has_object_streams = document
        .reference_table
        .entries
        .values()
        .any(|entry| matches!(entry, lopdf::xref::XrefEntry::Compressed { .. }))
        || has_stream_of_type(document, b"ObjStm");
    Ok(PdfInfo {
        pdf_version: document.version.clone(),
        page_count,
        pages,
        object_count: document.objects.len(),
        linearized: document.linearization.is_some(),
        has_xref_stream: matches!(
            document.reference_table.cross_reference_type,
            lopdf::xref::XrefType::CrossReferenceStream
        ) || has_stream_of_type(document, b"XRef"),
        has_object_streams,
        signatures: crate::signatures::signed_fields(document),
        certification: crate::signatures::certification_level(document),
    })
}

fn has_stream_of_type(document: &lopdf::Document, type_name: &[u8]) -> bool {
    document.objects.values().any(|object| {
        object
            .as_stream()
            .is_ok_and(|stream| stream.dict.has_type(type_name))
    })
}

/// The in-process half of the timeout: checked between units of our own work.
struct Deadline<'a> {
    started: Instant,
    limits: &'a Limits,
}

impl Deadline<'_> {
    fn check(&self) -> Result<(), Rejection> {
        if self.started.elapsed() > self.limits.timeout {
            return Err(Rejection::Timeout {
                seconds: self.limits.timeout_seconds(),
            });
        }
        Ok(())
    }
}
