//! A PAdES B-B signature as one incremental update (ISO 32000-1 7.5.6 and 12.8; ETSI EN 319
//! 142-1): the earlier bytes are kept untouched, and the update adds a signature dictionary
//! whose `/Contents` holds the CMS over every byte but itself.
//!
//! This first version adds the signature field (an invisible widget on page 1) in the same
//! update, which is valid for a document's *first* signature. The envelope flow prepares every
//! field before the first signature instead (see the shared notes on why), and then signs
//! existing fields.

use std::time::SystemTime;

use lopdf::{dictionary, Document, IncrementalDocument, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::algorithm::{RawSigner, SignError};
use crate::cms::detached_signed_data;
use crate::form::{fill, find_field, text_string, FieldFill};

/// Bytes reserved for the CMS (B-B with a short chain fits in 8 KiB; a timestamp needs more).
pub const DEFAULT_RESERVE: usize = 8 * 1024;

/// The placeholder ByteRange: 10-digit numbers so the real values (files up to ~9.3 GB) fit
/// in the same width.
const BYTE_RANGE_PLACEHOLDER: i64 = 9_999_999_999;

/// What the signature dictionary says besides the signature.
#[derive(Debug, Clone)]
pub struct SignatureInfo {
    /// The signature field's name (`/T`), unique in the document.
    pub field_name: String,
    /// `/Name`: the signer, for display.
    pub signer_name: String,
    /// `/Reason`.
    pub reason: Option<String>,
    /// The claimed signing time (`/M`).
    pub time: SystemTime,
}

fn invalid(detail: impl Into<String>) -> SignError {
    SignError::Invalid(detail.into())
}

fn pdf_error(err: lopdf::Error) -> SignError {
    SignError::Invalid(format!("PDF: {err}"))
}

/// `D:YYYYMMDDHHmmSSZ` (ISO 32000-1 7.9.4), in UTC.
fn pdf_date(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time)
        .format("D:%Y%m%d%H%M%SZ")
        .to_string()
}

/// Resolves a dictionary entry that may be a reference.
fn referenced_id(object: Option<&Object>) -> Option<ObjectId> {
    match object {
        Some(Object::Reference(id)) => Some(*id),
        _ => None,
    }
}

/// Signs `pdf` for the signer whose certificate is `chain[0]`, as one incremental update
/// (PAdES B-B). For B-T, use [`begin`], sign, timestamp, then [`Pending::finish`].
pub fn sign(
    pdf: &[u8],
    info: &SignatureInfo,
    fills: &[FieldFill],
    chain: &[Certificate],
    signer: &dyn RawSigner,
    reserve: usize,
) -> Result<Vec<u8>, SignError> {
    let pending = begin(pdf, info, fills, reserve)?;
    let cms = detached_signed_data(&pending.digest(), chain, signer)?;
    pending.finish(&cms)
}

/// The first stage of signing: the incremental update is written with its ByteRange final
/// and its `/Contents` reserved; what remains is the CMS over [`Pending::digest`]. The stages
/// can run apart (the HSM call and the timestamp request in between), as pyHanko's do.
///
/// `fills` are the signer's values for their own fields (the signature field's appearance
/// included), written in the same revision; they need a prepared document
/// ([`crate::form::prepare`]).
pub fn begin(
    pdf: &[u8],
    info: &SignatureInfo,
    fills: &[FieldFill],
    reserve: usize,
) -> Result<Pending, SignError> {
    let document = Document::load_mem(pdf).map_err(pdf_error)?;
    if document.xref_recovery.is_some() {
        return Err(invalid("the PDF's cross-reference data needed repair"));
    }
    if document.trailer.has(b"Encrypt") || document.encryption_state.is_some() {
        return Err(invalid("the PDF is encrypted"));
    }
    let first_page = *document
        .get_pages()
        .values()
        .next()
        .ok_or_else(|| invalid("the PDF has no pages"))?;
    let catalog_id = referenced_id(document.trailer.get(b"Root").ok())
        .ok_or_else(|| invalid("the trailer has no /Root reference"))?;
    let size = document
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    let prepared = prepared_field(&document, &info.field_name)?;
    let mut update = IncrementalDocument::create_from(pdf.to_vec(), document);
    // New objects above every number the file may use (trailer /Size - 1), never below.
    let floor = u32::try_from(size.saturating_sub(1)).unwrap_or(0);
    update.new_document.max_id = update.new_document.max_id.max(floor);

    let signature_id = update.new_document.add_object(dictionary! {
        "Type" => "Sig",
        "Filter" => "Adobe.PPKLite",
        "SubFilter" => "ETSI.CAdES.detached",
        "ByteRange" => vec![
            Object::Integer(0),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
        ],
        "Contents" => Object::String(vec![0u8; reserve], StringFormat::Hexadecimal),
        "M" => Object::String(pdf_date(info.time).into_bytes(), StringFormat::Literal),
        "Name" => text_string(&info.signer_name),
    });
    if let Some(reason) = &info.reason {
        if let Ok(Object::Dictionary(dict)) = update.new_document.get_object_mut(signature_id) {
            dict.set("Reason", text_string(reason));
        }
    }
    if let Some(field_id) = prepared {
        // A prepared document: only this field's value changes (what later signatures
        // permit), never the page, the catalog or the form.
        update
            .opt_clone_object_to_new_document(field_id)
            .map_err(pdf_error)?;
        set(&mut update, field_id, "V", Object::Reference(signature_id))?;
        fill(&mut update, fills, field_id)?;
        let mut out = Vec::with_capacity(pdf.len() + reserve * 2 + 4096);
        update
            .save_to(&mut out)
            .map_err(|e| invalid(format!("save: {e}")))?;
        return Pending::new(out, pdf.len(), reserve);
    }
    if !fills.is_empty() {
        return Err(invalid(format!(
            "no prepared signature field {:?} for the signer's fields",
            info.field_name
        )));
    }
    let field_id = update.new_document.add_object(dictionary! {
        "Type" => "Annot",
        "Subtype" => "Widget",
        "FT" => "Sig",
        "T" => text_string(&info.field_name),
        "V" => Object::Reference(signature_id),
        "Rect" => vec![0.into(), 0.into(), 0.into(), 0.into()],
        // Print + Locked.
        "F" => 132,
        "P" => Object::Reference(first_page),
    });

    // The page lists the widget among its annotations.
    update
        .opt_clone_object_to_new_document(first_page)
        .map_err(pdf_error)?;
    let annots = update
        .new_document
        .get_object(first_page)
        .and_then(Object::as_dict)
        .map_err(pdf_error)?
        .get(b"Annots")
        .ok()
        .cloned();
    match annots {
        Some(Object::Reference(array_id)) => {
            update
                .opt_clone_object_to_new_document(array_id)
                .map_err(pdf_error)?;
            if let Ok(Object::Array(items)) = update.new_document.get_object_mut(array_id) {
                items.push(Object::Reference(field_id));
            }
        }
        Some(Object::Array(mut items)) => {
            items.push(Object::Reference(field_id));
            set(&mut update, first_page, "Annots", Object::Array(items))?;
        }
        _ => set(
            &mut update,
            first_page,
            "Annots",
            Object::Array(vec![Object::Reference(field_id)]),
        )?,
    }

    // The catalog's AcroForm lists the field; SigFlags 3 (SignaturesExist | AppendOnly).
    update
        .opt_clone_object_to_new_document(catalog_id)
        .map_err(pdf_error)?;
    let acroform = update
        .new_document
        .get_object(catalog_id)
        .and_then(Object::as_dict)
        .map_err(pdf_error)?
        .get(b"AcroForm")
        .ok()
        .cloned();
    let form_id = match acroform {
        Some(Object::Reference(id)) => {
            update
                .opt_clone_object_to_new_document(id)
                .map_err(pdf_error)?;
            id
        }
        Some(Object::Dictionary(dict)) => {
            let id = update.new_document.add_object(dict);
            set(&mut update, catalog_id, "AcroForm", Object::Reference(id))?;
            id
        }
        _ => {
            let id = update
                .new_document
                .add_object(dictionary! { "Fields" => Vec::<Object>::new() });
            set(&mut update, catalog_id, "AcroForm", Object::Reference(id))?;
            id
        }
    };
    let form = update
        .new_document
        .get_object_mut(form_id)
        .and_then(Object::as_dict_mut)
        .map_err(pdf_error)?;
    let mut fields = match form.get(b"Fields") {
        Ok(Object::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    fields.push(Object::Reference(field_id));
    form.set("Fields", Object::Array(fields));
    form.set("SigFlags", 3);

    let mut out = Vec::with_capacity(pdf.len() + reserve * 2 + 4096);
    update
        .save_to(&mut out)
        .map_err(|e| invalid(format!("save: {e}")))?;
    Pending::new(out, pdf.len(), reserve)
}

/// The existing signature field named `name`, if the document was prepared with it; an error
/// if that field is already signed or is not a signature field.
fn prepared_field(document: &Document, name: &str) -> Result<Option<ObjectId>, SignError> {
    let Some(id) = find_field(document, name) else {
        return Ok(None);
    };
    let dict = document.get_dictionary(id).map_err(pdf_error)?;
    if !matches!(dict.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig") {
        return Err(invalid(format!(
            "the field {name:?} is not a signature field"
        )));
    }
    if dict.has(b"V") {
        return Err(invalid(format!("the field {name:?} is already signed")));
    }
    Ok(Some(id))
}

fn set(
    update: &mut IncrementalDocument,
    id: ObjectId,
    key: &str,
    value: Object,
) -> Result<(), SignError> {
    update
        .new_document
        .get_object_mut(id)
        .and_then(Object::as_dict_mut)
        .map_err(pdf_error)?
        .set(key, value);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

/// A signature revision waiting for its CMS.
#[derive(Debug)]
pub struct Pending {
    out: Vec<u8>,
    gap_start: usize,
    gap_end: usize,
    digest: [u8; 32],
}

impl Pending {
    /// Patches the ByteRange in place and hashes everything but the Contents gap. Only the
    /// appended part is searched: the earlier bytes are never touched.
    fn new(mut out: Vec<u8>, previous_len: usize, reserve: usize) -> Result<Self, SignError> {
        let placeholder = format!(
            "[0 {BYTE_RANGE_PLACEHOLDER} {BYTE_RANGE_PLACEHOLDER} {BYTE_RANGE_PLACEHOLDER}]"
        );
        let range_at = find(&out, placeholder.as_bytes(), previous_len)
            .ok_or_else(|| invalid("ByteRange placeholder not written"))?;
        let zeros = format!("<{}>", "0".repeat(reserve * 2));
        let gap_start = find(&out, zeros.as_bytes(), previous_len)
            .ok_or_else(|| invalid("Contents placeholder not written"))?;
        let gap_end = gap_start + zeros.len();
        let total = out.len();
        let range = format!("[0 {gap_start} {gap_end} {}]", total - gap_end);
        if range.len() > placeholder.len() {
            return Err(invalid(
                "the file is too large for the ByteRange placeholder",
            ));
        }
        let padded = format!("{range:<width$}", width = placeholder.len());
        out[range_at..range_at + placeholder.len()].copy_from_slice(padded.as_bytes());
        let mut hasher = Sha256::new();
        hasher.update(&out[..gap_start]);
        hasher.update(&out[gap_end..]);
        Ok(Self {
            out,
            gap_start,
            gap_end,
            digest: hasher.finalize().into(),
        })
    }

    /// SHA-256 of the signed byte ranges: the CMS message-digest.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The largest CMS, in bytes, that fits the reserved gap.
    pub fn capacity(&self) -> usize {
        (self.gap_end - self.gap_start - 2) / 2
    }

    /// Writes the DER CMS into the reserved gap and returns the signed file.
    pub fn finish(mut self, cms: &[u8]) -> Result<Vec<u8>, SignError> {
        let room = self.capacity();
        if cms.len() > room {
            return Err(invalid(format!(
                "the signature ({} bytes) exceeds the reserved {room} bytes",
                cms.len()
            )));
        }
        let hex = hex::encode_upper(cms);
        self.out[self.gap_start + 1..self.gap_start + 1 + hex.len()]
            .copy_from_slice(hex.as_bytes());
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_are_utc_with_a_z() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_318_200);
        assert_eq!(pdf_date(t), "D:20261122033000Z");
        assert_eq!(pdf_date(SystemTime::UNIX_EPOCH), "D:19700101000000Z");
    }

    #[test]
    fn non_latin_text_becomes_utf16_with_a_bom() {
        match text_string("Өлзий") {
            Object::String(bytes, StringFormat::Hexadecimal) => {
                assert_eq!(&bytes[..4], &[0xfe, 0xff, 0x04, 0xe8]);
            }
            other => panic!("{other:?}"),
        }
    }
}
