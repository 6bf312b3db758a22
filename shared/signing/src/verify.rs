//! Verifying the signatures of a PDF: for each signature field, the shape of its ByteRange
//! and Contents (refusing universal-signature-forgery and signature-wrapping shapes), the CMS
//! over the signed bytes, the certificate path to a trust root, the timestamp, which revision
//! it covers, and what every later revision changed (signature-only, form filling, or
//! anything else = modified). Bytes after the last signature are reported.
//!
//! The revision classification follows what PAdES validators (pyHanko's difference analysis)
//! accept after a signature: new signatures and signature fields, DSS data, and values and
//! appearances of fields that already exist; anything else modifies the signed document.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use lopdf::xref::XrefEntry;
use lopdf::{Dictionary, Document, Object, ObjectId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use std::time::SystemTime;

use x509_cert::crl::CertificateList;

use crate::acroform::{field_type, fields, name_of, text};
use crate::cms_verify::{verify_detached, verify_timestamp, TimestampReport};
use crate::crl;

/// What changed in a revision, from least to most: the order matters (`max` is the verdict).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Nothing but new signatures, signature fields, DSS or document timestamps.
    SignatureOnly,
    /// Values and appearances of existing fields.
    FormFilling,
    /// Anything else: the signed document itself changed.
    Modified,
}

/// One revision (an incremental update, or the original file).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevisionReport {
    /// 0 for the original file.
    pub index: usize,
    /// Offset just past its `%%EOF`.
    pub end: usize,
    /// What it changed relative to the revision before; `None` for revisions up to and
    /// including the first signed one (nothing signed to compare with).
    pub change: Option<Change>,
    /// The changes that decided `change`, for people.
    pub details: Vec<String>,
}

/// The timestamp of a signature.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimestampView {
    /// The TSA's signature holds and it stamps this signature.
    pub intact: bool,
    /// The TSA chains to a trust root.
    pub trusted: bool,
    /// The time asserted.
    pub time: Option<DateTime<Utc>>,
    /// The TSA's subject.
    pub authority: Option<String>,
    /// Why not intact.
    pub problem: Option<String>,
}

impl From<TimestampReport> for TimestampView {
    fn from(t: TimestampReport) -> Self {
        Self {
            intact: t.intact,
            trusted: t.trusted,
            time: t.time.map(DateTime::<Utc>::from),
            authority: t.authority,
            problem: t.problem,
        }
    }
}

/// The PAdES baseline level a signature reaches (ETSI EN 319 142-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AdesLevel {
    /// A CAdES-detached signature with its signing certificate bound (ESS).
    #[serde(rename = "B-B")]
    BB,
    /// B-B and an intact RFC 3161 timestamp over the signature from a trusted authority:
    /// proof that the signature existed at that time.
    #[serde(rename = "B-T")]
    BT,
    /// B-T, and the document security store holds revocation data, issued after the time
    /// the timestamp proves, for every certificate of the signer's and the TSA's paths.
    #[serde(rename = "B-LT")]
    BLT,
    /// B-LT, and an intact document timestamp from a trusted authority covers that
    /// validation data: it stays verifiable after the certificates expire.
    #[serde(rename = "B-LTA")]
    BLTA,
}

/// One signature.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignatureReport {
    /// The field's name.
    pub field: String,
    /// `/SubFilter`.
    pub sub_filter: Option<String>,
    /// A document timestamp (`ETSI.RFC3161`): the "signer" is the timestamp authority, and
    /// it proves the revision it covers existed at its time.
    pub document_timestamp: bool,
    /// `/Name`, as the signer gave it.
    pub signer_name: Option<String>,
    /// The signer certificate's subject.
    pub signer: Option<String>,
    /// Subjects from the signer's certificate up the path found.
    pub chain: Vec<String>,
    /// The path reaches a configured trust root.
    pub trusted: bool,
    /// `/M`, the claimed signing time (not proof; the timestamp is).
    pub claimed_time: Option<DateTime<Utc>>,
    /// The RFC 3161 timestamp, if any.
    pub timestamp: Option<TimestampView>,
    /// The PAdES level reached: `None` when the signature is not intact.
    pub level: Option<AdesLevel>,
    /// `/ByteRange`.
    pub byte_range: Vec<i64>,
    /// ByteRange and Contents have the only safe shape: `[0 a b c]`, the gap holding exactly
    /// this signature's hex `/Contents`, inside its own dictionary.
    pub well_formed: bool,
    /// The ByteRange ends where a revision ends (it signs that whole revision).
    pub covers_revision: bool,
    /// It ends where the file ends.
    pub covers_whole_file: bool,
    /// The revision it signs (0-based).
    pub revision: Option<usize>,
    /// The CMS holds over the signed bytes.
    pub intact: bool,
    /// The worst change in any later revision; `None` if it is the last revision.
    pub later_changes: Option<Change>,
    /// Intact, well formed, covering its revision, nothing later modified it, and the file
    /// itself has no problem (damaged cross-references, bytes after the last revision).
    pub valid: bool,
    /// Why the path is not trusted although it reaches a configured root (a CA flag or key
    /// usage missing, a certificate not valid when it signed, a path too long, a certificate
    /// revoked before the time the signature is proven to exist).
    pub trust_problem: Option<String>,
    /// Everything that is wrong, for people.
    pub problems: Vec<String>,
    /// Where the CRLs of the certificates in this signature's paths (signer's and TSA's) are
    /// published, for those whose revocation status no CRL at hand (the document's or the
    /// caller organization's) speaks for: not checked, unless the deployment fetches them.
    #[serde(default)]
    pub revocation_sources: Vec<String>,
}

/// The verdict on a file.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// The file's size.
    pub size: usize,
    /// Every signature field that holds a signature, in signing order.
    pub signatures: Vec<SignatureReport>,
    /// Every revision.
    pub revisions: Vec<RevisionReport>,
    /// Bytes after the end of the last signed revision.
    pub bytes_after_last_signature: usize,
    /// Problems with the file as a whole.
    pub problems: Vec<String>,
}

impl Report {
    /// At least one signature, every signature valid and trusted, every document timestamp
    /// valid, and nothing wrong with the file as a whole. A document timestamp from an
    /// authority the caller does not trust proves nothing (the signatures' level shows it) but
    /// takes nothing away from them.
    pub fn all_valid_and_trusted(&self) -> bool {
        self.problems.is_empty()
            && self.signatures.iter().any(|s| !s.document_timestamp)
            && self
                .signatures
                .iter()
                .all(|s| s.valid && (s.trusted || s.document_timestamp))
    }
}

/// `D:YYYYMMDDHHmmSS` with `Z` or an offset `+HH'mm'` (ISO 32000-1 7.9.4).
pub fn parse_pdf_date(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.strip_prefix("D:").unwrap_or(raw);
    let digits: String = raw.chars().take(14).collect();
    if digits.len() < 14 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let local = NaiveDateTime::parse_from_str(&digits, "%Y%m%d%H%M%S").ok()?;
    let rest = &raw[14..];
    let offset_minutes = match rest.chars().next() {
        None | Some('Z') => 0,
        Some(sign @ ('+' | '-')) => {
            let nums: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i64 = nums.get(0..2)?.parse().ok()?;
            let minutes: i64 = nums.get(2..4).unwrap_or("00").parse().ok()?;
            let total = hours * 60 + minutes;
            if sign == '+' {
                total
            } else {
                -total
            }
        }
        _ => return None,
    };
    Some(local.and_utc() - chrono::Duration::minutes(offset_minutes))
}

/// Each `%%EOF` marker: the offset just past it, and past the end-of-line that may follow
/// (a revision may end at either; writers differ).
fn eof_markers(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut ends = Vec::new();
    let mut from = 0;
    while let Some(at) = bytes[from..].windows(5).position(|w| w == b"%%EOF") {
        let end = from + at + 5;
        let mut with_eol = end;
        while with_eol < bytes.len()
            && with_eol < end + 2
            && matches!(bytes[with_eol], b'\r' | b'\n')
        {
            with_eol += 1;
        }
        ends.push((end, with_eol));
        from = end;
    }
    ends
}

/// A revision: where it ends (with or without its end-of-line) and the document as of then.
struct Revision {
    end: usize,
    end_with_eol: usize,
    document: Document,
}

impl Revision {
    fn ends_at(&self, offset: usize) -> bool {
        (self.end..=self.end_with_eol).contains(&offset)
    }
}

/// The revisions of `bytes`: each `%%EOF` whose prefix loads as a PDF without repair.
fn revisions(bytes: &[u8]) -> Vec<Revision> {
    eof_markers(bytes)
        .into_iter()
        .filter_map(|(end, end_with_eol)| {
            let document = Document::load_mem(&bytes[..end]).ok()?;
            document.xref_recovery.is_none().then_some(Revision {
                end,
                end_with_eol,
                document,
            })
        })
        .collect()
}

/// Whether the field (or its parent, for a widget merged under one) has a value.
fn field_has_value(document: &Document, dict: &Dictionary) -> bool {
    let mut current = dict;
    for _ in 0..32 {
        if current.has(b"V") {
            return true;
        }
        let Some(parent) = current
            .get(b"Parent")
            .and_then(Object::as_reference)
            .ok()
            .and_then(|p| document.get_dictionary(p).ok())
        else {
            return false;
        };
        current = parent;
    }
    false
}

/// Whether an annotation's `/Rect` has an area (an invisible signature's is `[0 0 0 0]`).
/// Whether the widget's normal appearance is absent or an empty content stream.
fn draws_nothing(document: &Document, widget: &Dictionary) -> bool {
    let Ok(appearance) = widget.get(b"AP") else {
        return true;
    };
    let appearance = match appearance {
        Object::Reference(id) => document.get_dictionary(*id).ok(),
        Object::Dictionary(d) => Some(d),
        _ => None,
    };
    let Some(normal) = appearance.and_then(|ap| ap.get(b"N").ok()) else {
        return true;
    };
    let stream = match normal {
        Object::Reference(id) => document.get_object(*id).and_then(Object::as_stream).ok(),
        Object::Stream(s) => Some(s),
        _ => None,
    };
    stream.is_some_and(|s| {
        s.decompressed_content()
            .unwrap_or_else(|_| s.content.clone())
            .iter()
            .all(u8::is_ascii_whitespace)
    })
}

fn shows_something(dict: &Dictionary) -> bool {
    let numbers: Vec<f32> = dict
        .get(b"Rect")
        .and_then(Object::as_array)
        .map(|items| items.iter().filter_map(|o| o.as_float().ok()).collect())
        .unwrap_or_default();
    match numbers[..] {
        [x1, y1, x2, y2] => (x2 - x1).abs() > 0.0 && (y2 - y1).abs() > 0.0,
        _ => false,
    }
}

fn is_hex_string(gap: &[u8]) -> bool {
    gap.len() >= 2
        && gap[0] == b'<'
        && gap[gap.len() - 1] == b'>'
        && gap[1..gap.len() - 1].iter().all(u8::is_ascii_hexdigit)
}

/// The ByteRange as four offsets, if it has the one safe shape: `[0 b c d]`, `0 < b < c`,
/// `c + d <= len`, the gap `[b, c)` exactly one hex string equal to the parsed `/Contents`,
/// and the signature dictionary (uncompressed, at `dict_offset`) around the gap.
fn check_shape(
    bytes: &[u8],
    range: &[i64],
    contents: &[u8],
    dict_offset: Option<usize>,
) -> Result<[usize; 4], String> {
    let values: Vec<usize> = range
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| "a negative ByteRange value".to_owned()))
        .collect::<Result<_, _>>()?;
    let [a, b, c, d] = values[..] else {
        return Err(format!("the ByteRange has {} numbers, not 4", values.len()));
    };
    if a != 0 {
        return Err("the ByteRange does not start at 0".into());
    }
    if !(0 < b && b < c) || c.checked_add(d).is_none_or(|end| end > bytes.len()) {
        return Err("the ByteRange is out of order or beyond the file".into());
    }
    let gap = &bytes[b..c];
    if !is_hex_string(gap) {
        return Err("the ByteRange gap holds more than one hex string (signature wrapping)".into());
    }
    let decoded = hex::decode(&gap[1..gap.len() - 1]).map_err(|e| e.to_string())?;
    if decoded != contents {
        return Err("the gap is not this signature's /Contents".into());
    }
    let offset = dict_offset.ok_or("the signature dictionary is compressed or not in the xref")?;
    if offset >= b || bytes[offset..b].windows(6).any(|w| w == b"endobj") {
        return Err("the gap lies outside the signature dictionary".into());
    }
    Ok([a, b, c, d])
}

/// Whether `object` is (a reference to) a widget of a signature field.
fn is_signature_widget(document: &Document, object: &Object) -> bool {
    object
        .as_reference()
        .ok()
        .and_then(|id| document.get_dictionary(id).ok())
        .is_some_and(|d| {
            d.get(b"Subtype").ok().and_then(name_of) == Some(b"Widget")
                && field_type(document, d).as_deref() == Some(b"Sig")
        })
}

fn changed_keys(before: &Dictionary, after: &Dictionary) -> BTreeSet<Vec<u8>> {
    let mut keys = BTreeSet::new();
    for (key, value) in after.iter() {
        if before.get(key).ok() != Some(value) {
            keys.insert(key.clone());
        }
    }
    for (key, _) in before.iter() {
        if !after.has(key) {
            keys.insert(key.clone());
        }
    }
    keys
}

fn only(keys: &BTreeSet<Vec<u8>>, allowed: &[&[u8]]) -> bool {
    keys.iter().all(|k| allowed.contains(&k.as_slice()))
}

/// Whether `after` is `before` with only signature widgets appended.
fn appends_signature_widgets(document: &Document, before: &[Object], after: &[Object]) -> bool {
    after.len() >= before.len()
        && after[..before.len()] == *before
        && after[before.len()..]
            .iter()
            .all(|o| is_signature_widget(document, o))
}

/// Whether `id` is `document`'s XMP metadata: the catalog's `/Metadata`, a stream of type
/// `/Metadata`, subtype `/XML`.
fn is_document_metadata(document: &Document, id: ObjectId) -> bool {
    let catalog = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .and_then(|root| document.get_dictionary(root));
    let named = catalog
        .and_then(|c| c.get(b"Metadata"))
        .and_then(Object::as_reference)
        .is_ok_and(|metadata| metadata == id);
    let stream = match document.get_object(id) {
        Ok(Object::Stream(stream)) => Some(&stream.dict),
        _ => None,
    };
    named
        && stream.is_some_and(|d| {
            d.get(b"Type").ok().and_then(name_of) == Some(b"Metadata".as_slice())
                && d.get(b"Subtype").ok().and_then(name_of) == Some(b"XML".as_slice())
        })
}

/// What changing object `id` from `before` to `after` amounts to, and why.
fn classify_object(
    previous: &Document,
    next: &Document,
    id: ObjectId,
    before: Option<&Object>,
    after: &Object,
) -> (Change, String) {
    let dict_after = match after {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    };
    let kind = dict_after
        .and_then(|d| d.get(b"Type").ok())
        .and_then(name_of)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let subtype = dict_after
        .and_then(|d| d.get(b"Subtype").ok())
        .and_then(name_of)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let object = format!("object {} {}", id.0, id.1);
    let catalog_id = next
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .ok();
    let Some(before) = before else {
        // A new object.
        return match (kind.as_slice(), subtype.as_slice()) {
            (b"Sig" | b"DocTimeStamp", _) => {
                (Change::SignatureOnly, format!("{object}: a signature"))
            }
            // A visible signature widget that nobody signs in this revision draws over the
            // signed page as it likes: an overlay, not a signature. One that draws nothing is
            // a field made ready for a later signer (as GSign adds to a document others signed
            // first): acceptable between signatures, not after the last one.
            (_, b"Widget")
                if dict_after.is_some_and(|d| {
                    field_type(next, d).as_deref() == Some(b"Sig")
                        && shows_something(d)
                        && !field_has_value(next, d)
                }) =>
            {
                if dict_after.is_some_and(|d| draws_nothing(next, d)) {
                    (
                        Change::FormFilling,
                        format!("{object}: a new, empty signature field"),
                    )
                } else {
                    (
                        Change::Modified,
                        format!("{object}: a visible signature widget that nothing signs"),
                    )
                }
            }
            (_, b"Widget")
                if dict_after.is_some_and(|d| field_type(next, d).as_deref() == Some(b"Sig")) =>
            {
                (
                    Change::SignatureOnly,
                    format!("{object}: a new signature field"),
                )
            }
            (b"Page" | b"Pages" | b"Catalog", _) => (
                Change::Modified,
                format!("{object}: a new page tree or catalog object"),
            ),
            (b"Annot", _)
            | (
                _,
                b"Widget" | b"FreeText" | b"Text" | b"Link" | b"Stamp" | b"Ink" | b"Square"
                | b"Circle" | b"Line" | b"Polygon" | b"PolyLine" | b"Highlight" | b"Underline"
                | b"StrikeOut" | b"Squiggly" | b"Caret" | b"FileAttachment" | b"Sound" | b"Movie"
                | b"Screen" | b"Redact" | b"Popup",
            ) => (
                Change::Modified,
                format!(
                    "{object}: a new {} annotation",
                    String::from_utf8_lossy(&subtype)
                ),
            ),
            // Appearance streams, fonts, images, DSS entries: harmless unless referenced by
            // a change that is judged on its own.
            _ => (
                Change::SignatureOnly,
                format!("{object}: a new supporting object"),
            ),
        };
    };
    let dict_before = match before {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    };
    let (Some(dict_before), Some(dict_after)) = (dict_before, dict_after) else {
        // Arrays: a page's /Annots growing by signature widgets.
        if let (Object::Array(b), Object::Array(a)) = (before, after) {
            if appends_signature_widgets(next, b, a) {
                return (
                    Change::SignatureOnly,
                    format!("{object}: signature widgets added"),
                );
            }
        }
        return (Change::Modified, format!("{object} changed"));
    };
    if is_document_metadata(previous, id) && is_document_metadata(next, id) {
        // Signing tools rewrite the XMP packet's dates (pyHanko does on every signature, and
        // its difference analysis accepts it): it draws nothing and fills no field.
        return (
            Change::SignatureOnly,
            format!("{object}: the document's XMP metadata updated"),
        );
    }
    if matches!((before, after), (Object::Stream(b), Object::Stream(a)) if b.content != a.content) {
        return (
            Change::Modified,
            format!("{object}: a stream's content changed"),
        );
    }
    let keys = changed_keys(dict_before, dict_after);
    let keys_text = keys
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if Some(id) == catalog_id {
        if only(&keys, &[b"DSS"]) {
            return (
                Change::SignatureOnly,
                format!("{object}: the catalog gained DSS data"),
            );
        }
        return (
            Change::Modified,
            format!("{object}: the catalog changed ({keys_text})"),
        );
    }
    if let Some(ft) = field_type(previous, dict_before) {
        return match ft.as_slice() {
            b"Sig" if only(&keys, &[b"V", b"AP"]) && !dict_before.has(b"V") => (
                Change::SignatureOnly,
                format!("{object}: a signature field was signed"),
            ),
            b"Sig" => (
                Change::Modified,
                format!("{object}: a signature field changed ({keys_text})"),
            ),
            _ if only(&keys, &[b"V", b"AS", b"AP"]) => {
                (Change::FormFilling, format!("{object}: a field was filled"))
            }
            _ => (
                Change::Modified,
                format!("{object}: a field changed ({keys_text})"),
            ),
        };
    }
    if subtype == b"Widget" && only(&keys, &[b"AS", b"AP"]) {
        return (
            Change::FormFilling,
            format!("{object}: a widget's appearance changed"),
        );
    }
    if kind == b"Page" && only(&keys, &[b"Annots"]) {
        let b = crate::ltv::array_items(previous, dict_before.get(b"Annots").ok());
        let a = crate::ltv::array_items(next, dict_after.get(b"Annots").ok());
        if appends_signature_widgets(next, &b, &a) {
            return (
                Change::SignatureOnly,
                format!("{object}: signature widgets added"),
            );
        }
        return (
            Change::Modified,
            format!("{object}: a page's annotations changed"),
        );
    }
    let is_form = next
        .catalog()
        .ok()
        .and_then(|c| c.get(b"AcroForm").ok())
        .and_then(|f| f.as_reference().ok())
        == Some(id);
    if is_form {
        let fields_ok = !keys.contains(b"Fields".as_slice()) || {
            let b = crate::ltv::array_items(previous, dict_before.get(b"Fields").ok());
            let a = crate::ltv::array_items(next, dict_after.get(b"Fields").ok());
            appends_signature_widgets(next, &b, &a)
        };
        if fields_ok && only(&keys, &[b"Fields"]) {
            return (
                Change::SignatureOnly,
                format!("{object}: signature fields added"),
            );
        }
        if fields_ok && only(&keys, &[b"Fields", b"DR"]) {
            return (
                Change::FormFilling,
                format!("{object}: form resources added"),
            );
        }
        return (
            Change::Modified,
            format!("{object}: the form changed ({keys_text})"),
        );
    }
    (Change::Modified, format!("{object} changed ({keys_text})"))
}

/// What `next` changed relative to `previous`.
fn classify_revision(previous: &Document, next: &Document) -> (Change, Vec<String>) {
    let mut worst = Change::SignatureOnly;
    let mut details = Vec::new();
    // The trailer says which catalog, encryption and document information a reader uses:
    // pointing them elsewhere changes the document without touching a signed object.
    for key in [b"Root".as_slice(), b"Encrypt", b"Info"] {
        if previous.trailer.get(key).ok() != next.trailer.get(key).ok() {
            worst = Change::Modified;
            details.push(format!(
                "the trailer's /{} changed",
                String::from_utf8_lossy(key)
            ));
        }
    }
    for (id, after) in &next.objects {
        let before = previous.objects.get(id);
        if before == Some(after) {
            continue;
        }
        let is_plumbing = match after {
            Object::Stream(s) => matches!(
                s.dict.get(b"Type").ok().and_then(name_of),
                Some(b"XRef" | b"ObjStm")
            ),
            _ => false,
        };
        if is_plumbing {
            continue;
        }
        let (change, why) = classify_object(previous, next, *id, before, after);
        if change >= Change::FormFilling {
            details.push(why);
        }
        worst = worst.max(change);
    }
    for id in previous.objects.keys() {
        if !next.objects.contains_key(id) {
            worst = Change::Modified;
            details.push(format!("object {} {} was deleted", id.0, id.1));
        }
    }
    (worst, details)
}

/// Verifies every signature of `bytes` against `roots`, with the revocation data the
/// document's security store holds.
pub fn verify(bytes: &[u8], roots: &[Certificate]) -> Report {
    verify_with_crls(bytes, roots, &[])
}

/// [`verify`], also consulting `crls` (DER; e.g. the current CRL of the caller's own CA) to
/// refuse a certificate revoked before the time a signature is proven to exist. Only the
/// document's own validation data counts toward B-LT and B-LTA.
pub fn verify_with_crls(bytes: &[u8], roots: &[Certificate], crls: &[Vec<u8>]) -> Report {
    let mut report = Report {
        size: bytes.len(),
        signatures: Vec::new(),
        revisions: Vec::new(),
        bytes_after_last_signature: 0,
        problems: Vec::new(),
    };
    let document = match Document::load_mem(bytes) {
        Ok(document) => document,
        Err(e) => {
            report
                .problems
                .push(format!("the file is not a readable PDF: {e}"));
            return report;
        }
    };
    if document.xref_recovery.is_some() {
        report
            .problems
            .push("the cross-reference data is damaged; revisions cannot be trusted".into());
    }
    let revisions = revisions(bytes);
    let mut verified = Vec::new();
    for (name, field_id) in fields(&document) {
        let Ok(field) = document.get_dictionary(field_id) else {
            continue;
        };
        if field_type(&document, field).as_deref() != Some(b"Sig") {
            continue;
        }
        let Ok(value) = field.get(b"V") else {
            continue;
        };
        let (signature_id, signature) = match value {
            Object::Reference(id) => (Some(*id), document.get_dictionary(*id).ok()),
            Object::Dictionary(d) => (None, Some(d)),
            _ => (None, None),
        };
        let Some(signature) = signature else {
            continue;
        };
        verified.push(verify_signature(
            bytes,
            &document,
            &revisions,
            name,
            signature_id,
            signature,
            roots,
        ));
    }
    verified.sort_by_key(|v| v.report.byte_range.get(2).copied().unwrap_or(0));
    let stored: Vec<CertificateList> = crate::ltv::stored_validation_data(&document)
        .crls
        .iter()
        .filter_map(|der| crl::parse(der).ok())
        .collect();
    let given: Vec<CertificateList> = crls.iter().filter_map(|der| crl::parse(der).ok()).collect();
    let all: Vec<CertificateList> = stored.iter().chain(&given).cloned().collect();
    let dss_revision = revisions.iter().position(|r| has_dss(&r.document));
    let archived_from = verified
        .iter()
        .filter(|v| v.report.document_timestamp && v.report.intact && v.report.trusted)
        .filter_map(|v| v.report.revision)
        .filter(|&r| dss_revision.is_some_and(|dss| r >= dss))
        .max();
    for mut v in verified {
        judge_revocation(&mut v, &stored, &all, dss_revision, archived_from);
        report.signatures.push(v.report);
    }
    let first_signed = report.signatures.iter().filter_map(|s| s.revision).min();
    for (index, revision) in revisions.iter().enumerate() {
        let (change, details) = match (first_signed, index) {
            (Some(first), i) if i > first => {
                let (change, details) =
                    classify_revision(&revisions[i - 1].document, &revision.document);
                (Some(change), details)
            }
            _ => (None, Vec::new()),
        };
        report.revisions.push(RevisionReport {
            index,
            end: revision.end_with_eol,
            change,
            details,
        });
    }
    // After the last signature only more signatures, DSS data and document timestamps may
    // follow: a field filled then is in no signed revision, and nobody vouches for it.
    let last_signed = report.signatures.iter().filter_map(|s| s.revision).max();
    if let Some(last) = last_signed {
        for revision in report.revisions.iter_mut().filter(|r| r.index > last) {
            if revision.change == Some(Change::FormFilling) {
                revision.change = Some(Change::Modified);
                revision
                    .details
                    .push("filled after the last signature, which nothing signs".to_owned());
            }
        }
    }
    let complete = revisions.last().is_some_and(|r| r.ends_at(bytes.len()));
    if !complete {
        // No %%EOF after them: readers start from the last startxref and never see these
        // bytes (pyHanko agrees), but they are reported.
        report
            .problems
            .push("bytes after the last revision are not a revision; readers ignore them".into());
    }
    let last_signed_end = report
        .signatures
        .iter()
        .filter(|s| s.well_formed)
        .filter_map(|s| s.byte_range.get(2..4).map(|r| (r[0] + r[1]) as usize))
        .max();
    report.bytes_after_last_signature =
        last_signed_end.map_or(0, |end| bytes.len().saturating_sub(end));
    for signature in &mut report.signatures {
        signature.later_changes = signature.revision.and_then(|r| {
            report
                .revisions
                .iter()
                .filter(|rev| rev.index > r)
                .filter_map(|rev| rev.change)
                .max()
        });
        if signature.later_changes == Some(Change::Modified) {
            signature
                .problems
                .push("a later revision modified the signed document".into());
        }
        // A problem with the file (damaged cross-references, bytes after the last revision)
        // means what follows the signature cannot be vouched for.
        signature.valid = signature.intact
            && signature.well_formed
            && signature.covers_revision
            && signature.later_changes != Some(Change::Modified)
            && signature.problems.is_empty()
            && report.problems.is_empty();
    }
    report
}

/// A signature's report with what its revocation check needs.
struct Verified {
    report: SignatureReport,
    /// The signer's path (the TSA's, for a document timestamp), leaf first.
    chain: Vec<Certificate>,
    /// The path of the signature's own timestamp authority.
    timestamp_chain: Vec<Certificate>,
    /// The time an intact, trusted timestamp proves.
    proven_time: Option<SystemTime>,
}

fn verify_signature(
    bytes: &[u8],
    document: &Document,
    revisions: &[Revision],
    field: String,
    signature_id: Option<ObjectId>,
    signature: &Dictionary,
    roots: &[Certificate],
) -> Verified {
    let sub_filter = signature
        .get(b"SubFilter")
        .ok()
        .and_then(name_of)
        .map(|n| String::from_utf8_lossy(n).into_owned());
    let mut verified = Verified {
        report: SignatureReport {
            field,
            document_timestamp: sub_filter.as_deref() == Some("ETSI.RFC3161"),
            sub_filter,
            signer_name: signature.get(b"Name").ok().and_then(text),
            signer: None,
            chain: Vec::new(),
            trusted: false,
            claimed_time: signature
                .get(b"M")
                .ok()
                .and_then(text)
                .and_then(|m| parse_pdf_date(&m)),
            timestamp: None,
            level: None,
            byte_range: Vec::new(),
            well_formed: false,
            covers_revision: false,
            covers_whole_file: false,
            revision: None,
            intact: false,
            later_changes: None,
            valid: false,
            trust_problem: None,
            problems: Vec::new(),
            revocation_sources: Vec::new(),
        },
        chain: Vec::new(),
        timestamp_chain: Vec::new(),
        proven_time: None,
    };
    let report = &mut verified.report;
    let range: Vec<i64> = signature
        .get(b"ByteRange")
        .and_then(Object::as_array)
        .map(|items| items.iter().filter_map(|o| o.as_i64().ok()).collect())
        .unwrap_or_default();
    report.byte_range = range.clone();
    let contents = match signature.get(b"Contents") {
        Ok(Object::String(c, _)) => c.clone(),
        _ => {
            report
                .problems
                .push("the signature has no /Contents string".into());
            return verified;
        }
    };
    let dict_offset = signature_id.and_then(|id| match document.reference_table.get(id.0) {
        Some(XrefEntry::Normal { offset, .. }) => usize::try_from(*offset).ok(),
        _ => None,
    });
    let [_, b, c, d] = match check_shape(bytes, &range, &contents, dict_offset) {
        Ok(range) => range,
        Err(problem) => {
            report.problems.push(problem);
            return verified;
        }
    };
    report.well_formed = true;
    let end = c + d;
    report.covers_whole_file = end == bytes.len();
    report.revision = revisions.iter().position(|r| r.ends_at(end));
    report.covers_revision = report.revision.is_some();
    if !report.covers_revision {
        report
            .problems
            .push("the ByteRange does not end where a revision ends".into());
    }
    let mut hasher = Sha256::new();
    hasher.update(&bytes[..b]);
    hasher.update(&bytes[c..end]);
    let digest: [u8; 32] = hasher.finalize().into();
    // The hex Contents is zero-padded after the DER; the CMS parser reads one DER value.
    let der = der_prefix(&contents);
    if report.document_timestamp {
        let token = verify_timestamp(der, &digest, roots);
        report.intact = token.intact;
        report.trusted = token.trusted;
        report.signer = token.authority.clone();
        report.chain = token
            .chain
            .iter()
            .map(|c| c.tbs_certificate.subject.to_string())
            .collect();
        report.claimed_time = token.time.map(DateTime::<Utc>::from);
        match (&token.problem, token.intact) {
            (Some(problem), true) => report.trust_problem = Some(problem.clone()),
            (Some(problem), false) => report.problems.push(problem.clone()),
            (None, _) => {}
        }
        verified.proven_time = token.time.filter(|_| token.intact && token.trusted);
        verified.chain = token.chain;
        return verified;
    }
    let cms = verify_detached(der, &digest, roots);
    report.intact = cms.intact;
    report.trusted = cms.trusted;
    report.trust_problem = cms.path_problem;
    report.signer = cms
        .chain
        .first()
        .map(|c| c.tbs_certificate.subject.to_string());
    report.chain = cms
        .chain
        .iter()
        .map(|c| c.tbs_certificate.subject.to_string())
        .collect();
    if let Some(timestamp) = &cms.timestamp {
        if timestamp.intact && timestamp.trusted {
            verified.proven_time = timestamp.time;
        }
        verified.timestamp_chain = timestamp.chain.clone();
    }
    report.timestamp = cms.timestamp.map(TimestampView::from);
    report.level = report.intact.then(|| {
        if verified.proven_time.is_some() {
            AdesLevel::BT
        } else {
            AdesLevel::BB
        }
    });
    if let Some(problem) = cms.problem {
        report.problems.push(problem);
    }
    verified.chain = cms.chain;
    verified
}

/// Whether the catalog of `document` has a document security store.
fn has_dss(document: &Document) -> bool {
    document.catalog().is_ok_and(|c| c.has(b"DSS"))
}

/// What revocation data says of a path at a time.
enum Revocation {
    /// Every certificate below the root has a CRL from its issuer that speaks for the time.
    Good,
    /// A certificate was revoked at or before the time.
    Revoked(String),
    /// Some certificates have no usable revocation data; where theirs is published.
    Unknown(Vec<String>),
}

/// The status of `path` (leaf first, each certificate issued by the next) at `at`, from
/// `crls`: a CRL counts when its issuer signed it and it was issued after `at` (so it speaks
/// of that time) or was current then.
fn revocation_of(path: &[Certificate], at: SystemTime, crls: &[CertificateList]) -> Revocation {
    let mut status = Revocation::Good;
    for (certificate, issuer) in path.iter().zip(path.iter().skip(1)) {
        let usable: Vec<&CertificateList> = crls
            .iter()
            .filter(|c| crl::check_issued_by(c, issuer).is_ok())
            .filter(|c| c.tbs_cert_list.this_update.to_system_time() >= at || crl::covers(c, at))
            .collect();
        if usable.is_empty() {
            let mut sources = match status {
                Revocation::Unknown(sources) => sources,
                _ => Vec::new(),
            };
            for url in crl::distribution_urls(certificate) {
                if !sources.contains(&url) {
                    sources.push(url);
                }
            }
            status = Revocation::Unknown(sources);
            continue;
        }
        if let Some(when) = usable
            .iter()
            .filter_map(|c| crl::revoked_at(c, certificate))
            .find(|&when| when <= at)
        {
            return Revocation::Revoked(format!(
                "{} was revoked on {}, before the time the signature is proven to exist",
                certificate.tbs_certificate.subject,
                DateTime::<Utc>::from(when).to_rfc3339()
            ));
        }
    }
    status
}

/// Refuses a signature whose signer (or TSA) was revoked before it is proven to exist, and
/// raises a B-T signature to B-LT / B-LTA when the document's own validation data (a DSS from
/// revision `dss_revision` on, and a document timestamp over it in revision `archived_from`
/// or later) allow it.
fn judge_revocation(
    verified: &mut Verified,
    stored: &[CertificateList],
    all: &[CertificateList],
    dss_revision: Option<usize>,
    archived_from: Option<usize>,
) {
    let at = verified.proven_time.unwrap_or_else(SystemTime::now);
    let report = &mut verified.report;
    for path in [&verified.chain, &verified.timestamp_chain] {
        match revocation_of(path, at, all) {
            Revocation::Revoked(why) => {
                report.trusted = false;
                report.trust_problem = Some(why);
                report.level = report.level.map(|_| AdesLevel::BB);
                return;
            }
            Revocation::Unknown(sources) => {
                for url in sources {
                    if !report.revocation_sources.contains(&url) {
                        report.revocation_sources.push(url);
                    }
                }
            }
            Revocation::Good => {}
        }
    }
    if report.level != Some(AdesLevel::BT) || !report.trusted || dss_revision.is_none() {
        return;
    }
    let documented = [&verified.chain, &verified.timestamp_chain]
        .iter()
        .all(|path| matches!(revocation_of(path, at, stored), Revocation::Good));
    if documented {
        let archived = archived_from
            .zip(report.revision)
            .is_some_and(|(archive, signed)| archive > signed);
        report.level = Some(if archived {
            AdesLevel::BLTA
        } else {
            AdesLevel::BLT
        });
    }
}

/// The DER value at the start of `bytes` (the reserved Contents is zero-padded).
fn der_prefix(bytes: &[u8]) -> &[u8] {
    let length = || -> Option<usize> {
        let first = *bytes.get(1)?;
        if first < 0x80 {
            return Some(2 + usize::from(first));
        }
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..count {
            len = (len << 8) | usize::from(*bytes.get(2 + i)?);
        }
        Some(2 + count + len)
    };
    match length() {
        Some(len) if len <= bytes.len() => &bytes[..len],
        _ => bytes,
    }
}

/// Counts of each change among `revisions` (for summaries).
pub fn change_counts(revisions: &[RevisionReport]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for change in revisions.iter().filter_map(|r| r.change) {
        let key = match change {
            Change::SignatureOnly => "signature_only",
            Change::FormFilling => "form_filling",
            Change::Modified => "modified",
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_parse_with_z_or_an_offset() {
        let utc = parse_pdf_date("D:20261128075700Z").expect("Z");
        assert_eq!(utc.to_rfc3339(), "2026-11-28T07:57:00+00:00");
        let plus8 = parse_pdf_date("D:20261128155700+08'00'").expect("offset");
        assert_eq!(plus8, utc);
        assert!(parse_pdf_date("yesterday").is_none());
    }

    #[test]
    fn only_a_gap_holding_exactly_the_contents_has_a_safe_shape() {
        let file =
            b"%PDF-1.7\n1 0 obj <</Contents <0A0B> /ByteRange [0 26 32 10]>> endobj\n0123456789";
        let gap_start = file.windows(6).position(|w| w == b"<0A0B>").expect("gap");
        let range = [
            0,
            gap_start as i64,
            gap_start as i64 + 6,
            (file.len() - gap_start - 6) as i64,
        ];
        assert!(check_shape(file, &range, &[0x0a, 0x0b], Some(9)).is_ok());
        // Another Contents than the parsed one, a gap wider than the string, a range that does
        // not start at 0, and a dictionary that does not enclose the gap are all refused.
        assert!(check_shape(file, &range, &[0x0a, 0x0c], Some(9)).is_err());
        let wide = [0, range[1] - 1, range[2], range[3]];
        assert!(check_shape(file, &wide, &[0x0a, 0x0b], Some(9)).is_err());
        let shifted = [1, range[1], range[2], range[3]];
        assert!(check_shape(file, &shifted, &[0x0a, 0x0b], Some(9)).is_err());
        assert!(check_shape(file, &range, &[0x0a, 0x0b], None).is_err());
    }

    #[test]
    fn the_der_value_is_cut_from_its_zero_padding() {
        assert_eq!(
            der_prefix(&[0x30, 0x02, 1, 2, 0, 0, 0]),
            &[0x30, 0x02, 1, 2]
        );
        assert_eq!(
            der_prefix(&[0x30, 0x81, 0x01, 9, 0]),
            &[0x30, 0x81, 0x01, 9]
        );
    }
}
