//! Why an upload was refused.

use serde::{Deserialize, Serialize};

/// The verdict on a file that GSign will not take.
///
/// Serialised with its [`code`](Rejection::code) as the `"code"` tag, e.g.
/// `{"code":"pdf_too_many_pages","limit":2000}`, so the JSON and the code never disagree.
/// Details are short and never quote the file's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code")]
pub enum Rejection {
    /// The file has no bytes.
    #[serde(rename = "empty_file")]
    #[error("the file is empty")]
    Empty,
    /// The file is none of the types GSign accepts.
    #[serde(rename = "unsupported_type")]
    #[error("unsupported file type (it looks like {detected}); upload a PDF, DOCX or XLSX file")]
    UnsupportedType {
        /// A short best guess at what the file is, e.g. `"png"` or `"text"`.
        detected: String,
    },
    /// The PDF is encrypted or password-protected.
    #[serde(rename = "pdf_encrypted")]
    #[error("the PDF is encrypted or password-protected")]
    Encrypted,
    /// The PDF does not load as written: damaged structure, repaired cross-reference data,
    /// objects that do not parse, a broken page tree or page content.
    #[serde(rename = "pdf_damaged")]
    #[error("the PDF is damaged: {detail}")]
    Damaged {
        /// What is wrong, in a few words.
        detail: String,
    },
    /// The PDF ends before its end-of-file marker: the upload was cut off.
    #[serde(rename = "pdf_truncated")]
    #[error("the PDF ends early (no %%EOF marker at its end): the file was probably cut off")]
    Truncated,
    /// The PDF has no pages.
    #[serde(rename = "pdf_no_pages")]
    #[error("the PDF has no pages")]
    NoPages,
    /// The PDF has more pages than allowed.
    #[serde(rename = "pdf_too_many_pages")]
    #[error("the PDF has more than {limit} pages")]
    TooManyPages {
        /// The page limit.
        limit: u32,
    },
    /// The PDF has more objects than allowed.
    #[serde(rename = "pdf_too_many_objects")]
    #[error("the PDF has more than {limit} objects")]
    TooManyObjects {
        /// The object limit.
        limit: usize,
    },
    /// Arrays, dictionaries or the page tree nest deeper than allowed.
    #[serde(rename = "pdf_too_deep")]
    #[error("the PDF nests objects more than {limit} levels deep")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// Decompressing the PDF's streams would produce more bytes than allowed.
    #[serde(rename = "pdf_decompression_bomb")]
    #[error("the PDF's streams decompress to more than {limit} bytes")]
    DecompressionBomb {
        /// The limit on decompressed bytes.
        limit: u64,
    },
    /// Inspecting the file took longer than allowed.
    #[serde(rename = "inspection_timeout")]
    #[error("inspecting the file took longer than {seconds} seconds")]
    Timeout {
        /// The time limit, in whole seconds (rounded up).
        seconds: u64,
    },
    /// Inspecting the file hit a memory, CPU or size limit (or the file is a zip bomb).
    #[serde(rename = "inspection_resource_limit")]
    #[error("inspecting the file exceeded a resource limit: {detail}")]
    ResourceLimit {
        /// Which limit, in a few words.
        detail: String,
    },
    /// The PDF parser died on this file.
    #[serde(rename = "pdf_parser_crashed")]
    #[error("the PDF parser crashed on this file: {detail}")]
    ParserCrashed {
        /// How it died, e.g. `killed by signal 6`.
        detail: String,
    },
}

impl Rejection {
    /// A stable machine-readable reason, e.g. `pdf_encrypted` (the same string as the JSON
    /// `"code"` tag).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Empty => "empty_file",
            Rejection::UnsupportedType { .. } => "unsupported_type",
            Rejection::Encrypted => "pdf_encrypted",
            Rejection::Damaged { .. } => "pdf_damaged",
            Rejection::Truncated => "pdf_truncated",
            Rejection::NoPages => "pdf_no_pages",
            Rejection::TooManyPages { .. } => "pdf_too_many_pages",
            Rejection::TooManyObjects { .. } => "pdf_too_many_objects",
            Rejection::TooDeep { .. } => "pdf_too_deep",
            Rejection::DecompressionBomb { .. } => "pdf_decompression_bomb",
            Rejection::Timeout { .. } => "inspection_timeout",
            Rejection::ResourceLimit { .. } => "inspection_resource_limit",
            Rejection::ParserCrashed { .. } => "pdf_parser_crashed",
        }
    }

    /// A [`Rejection::Damaged`] with a fixed detail.
    pub(crate) fn damaged(detail: impl Into<String>) -> Self {
        Rejection::Damaged {
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Rejection> {
        vec![
            Rejection::Empty,
            Rejection::UnsupportedType {
                detected: "png".into(),
            },
            Rejection::Encrypted,
            Rejection::damaged("x"),
            Rejection::Truncated,
            Rejection::NoPages,
            Rejection::TooManyPages { limit: 1 },
            Rejection::TooManyObjects { limit: 2 },
            Rejection::TooDeep { limit: 3 },
            Rejection::DecompressionBomb { limit: 4 },
            Rejection::Timeout { seconds: 5 },
            Rejection::ResourceLimit { detail: "y".into() },
            Rejection::ParserCrashed { detail: "z".into() },
        ]
    }

    #[test]
    fn json_tag_is_the_code_and_round_trips() {
        for rejection in all() {
            let json = serde_json::to_value(&rejection).expect("serialises");
            assert_eq!(json["code"], rejection.code(), "{json}");
            let back: Rejection = serde_json::from_value(json).expect("deserialises");
            assert_eq!(back, rejection);
        }
    }

    #[test]
    fn codes_are_distinct() {
        let mut codes: Vec<_> = all().iter().map(Rejection::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all().len());
    }
}
