//! A PAdES B-B signature as one incremental update (ISO 32000-1 7.5.6 and 12.8; ETSI EN 319
//! 142-1): the earlier bytes are kept untouched, and the update adds a signature dictionary
//! whose `/Contents` holds the CMS over every byte but itself.
//!
//! This first version adds the signature field (an invisible widget on page 1) in the same
//! update, which is valid for a document's *first* signature. The envelope flow prepares every
//! field before the first signature instead (see the shared notes on why), and then signs
//! existing fields.

use std::time::SystemTime;

use lopdf::{
    dictionary, Document, IncrementalDocument, LoadOptions, Object, ObjectId, StringFormat,
};
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
    /// The signature locks the document (the completion seal, whose field was prepared with
    /// a `/Lock` with permissions 1: see `form::FieldKind::Seal`): the signature
    /// carries the FieldMDP reference that lock calls for, so viewers and validators refuse a
    /// field filled or an annotation added after it.
    pub locks_document: bool,
}

fn invalid(detail: impl Into<String>) -> SignError {
    SignError::Invalid(detail.into())
}

pub(crate) fn pdf_error(err: lopdf::Error) -> SignError {
    SignError::Invalid(format!("PDF: {err}"))
}

/// `D:YYYYMMDDHHmmSSZ` (ISO 32000-1 7.9.4), in UTC.
fn pdf_date(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time)
        .format("D:%Y%m%d%H%M%SZ")
        .to_string()
}

/// Resolves a dictionary entry that may be a reference.
pub(crate) fn referenced_id(object: Option<&Object>) -> Option<ObjectId> {
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
pub fn begin<'a>(
    pdf: &'a [u8],
    info: &SignatureInfo,
    fills: &[FieldFill],
    reserve: usize,
) -> Result<Pending<'a>, SignError> {
    let mut signature = dictionary! {
        "Type" => "Sig",
        "Filter" => "Adobe.PPKLite",
        "SubFilter" => "ETSI.CAdES.detached",
        "M" => Object::String(pdf_date(info.time).into_bytes(), StringFormat::Literal),
        "Name" => text_string(&info.signer_name),
    };
    if let Some(reason) = &info.reason {
        signature.set("Reason", text_string(reason));
    }
    let new_field = NewField {
        name: &info.field_name,
        signature,
        locks_document: info.locks_document,
    };
    begin_with(pdf, &new_field, fills, reserve)
}

/// The first stage of a document timestamp (ISO 32000-2 12.8.5, the PAdES B-LTA archive
/// timestamp): a new invisible signature field `field_name` whose value is a `/DocTimeStamp`
/// dictionary (`ETSI.RFC3161`); what remains is an RFC 3161 token whose message imprint is
/// [`Pending::digest`], embedded as it is with [`Pending::finish`].
pub fn begin_document_timestamp<'a>(
    pdf: &'a [u8],
    field_name: &str,
    reserve: usize,
) -> Result<Pending<'a>, SignError> {
    let new_field = NewField {
        name: field_name,
        signature: dictionary! {
            "Type" => "DocTimeStamp",
            "Filter" => "Adobe.PPKLite",
            "SubFilter" => "ETSI.RFC3161",
        },
        locks_document: false,
    };
    begin_with(pdf, &new_field, &[], reserve)
}

/// The signature dictionary of a new revision, before its ByteRange and Contents.
struct NewField<'n> {
    name: &'n str,
    signature: lopdf::Dictionary,
    locks_document: bool,
}

fn begin_with<'a>(
    pdf: &'a [u8],
    new_field: &NewField<'_>,
    fills: &[FieldFill],
    reserve: usize,
) -> Result<Pending<'a>, SignError> {
    // The previous bytes' hash does not depend on the update: a second core computes it
    // while lopdf parses (each takes about as long on a large file).
    std::thread::scope(|scope| {
        let previous = scope.spawn(|| {
            let mut hasher = Sha256::new();
            hasher.update(pdf);
            hasher
        });
        let update = revision(pdf, new_field, fills, reserve);
        let hasher = previous
            .join()
            .map_err(|_| invalid("the hashing thread panicked"))?;
        Pending::new(pdf, &mut update?, reserve, hasher)
    })
}

/// The signing revision as an incremental update of `pdf` (not yet written).
fn revision(
    pdf: &[u8],
    new_field: &NewField<'_>,
    fills: &[FieldFill],
    reserve: usize,
) -> Result<IncrementalDocument, SignError> {
    let document = load_for_update(pdf)?;
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
    let prepared = prepared_field(&document, new_field.name)?;
    // The seal's FieldMDP reference names what its field's /Lock names.
    let lock = prepared
        .and_then(|id| document.get_dictionary(id).ok())
        .and_then(|field| field.get(b"Lock").ok())
        .and_then(|lock| match lock {
            Object::Reference(id) => document.get_dictionary(*id).ok().cloned(),
            Object::Dictionary(d) => Some(d.clone()),
            _ => None,
        });
    let mut update = update_of(pdf, document, size);

    let mut signature = new_field.signature.clone();
    signature.set(
        "ByteRange",
        vec![
            Object::Integer(0),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
        ],
    );
    signature.set(
        "Contents",
        Object::String(vec![0u8; reserve], StringFormat::Hexadecimal),
    );
    if new_field.locks_document {
        let mut params = dictionary! {
            "Type" => "TransformParams",
            "Action" => "All",
            "V" => "1.2",
        };
        if let Some(lock) = &lock {
            for key in [b"Action".as_slice(), b"Fields"] {
                if let Ok(value) = lock.get(key) {
                    params.set(key, value.clone());
                }
            }
        }
        signature.set(
            "Reference",
            vec![Object::Dictionary(dictionary! {
                "Type" => "SigRef",
                "TransformMethod" => "FieldMDP",
                "TransformParams" => params,
                "Data" => Object::Reference(catalog_id),
            })],
        );
    }
    let signature_id = update.new_document.add_object(signature);

    if let Some(field_id) = prepared {
        // A prepared document: only this field's value changes (what later signatures
        // permit), never the page, the catalog or the form.
        update
            .opt_clone_object_to_new_document(field_id)
            .map_err(pdf_error)?;
        set(&mut update, field_id, "V", Object::Reference(signature_id))?;
        fill(&mut update, fills, field_id)?;
        return Ok(update);
    }
    if !fills.is_empty() {
        return Err(invalid(format!(
            "no prepared signature field {:?} for the signer's fields",
            new_field.name
        )));
    }
    let field_id = update.new_document.add_object(dictionary! {
        "Type" => "Annot",
        "Subtype" => "Widget",
        "FT" => "Sig",
        "T" => text_string(new_field.name),
        "V" => Object::Reference(signature_id),
        "Rect" => vec![0.into(), 0.into(), 0.into(), 0.into()],
        // Print + Locked.
        "F" => 132,
        "P" => Object::Reference(first_page),
    });

    // The page lists the widget among its annotations.
    crate::form::append_in_update(
        &mut update,
        first_page,
        b"Annots",
        vec![Object::Reference(field_id)],
    )?;

    // The catalog's AcroForm lists the field; SigFlags 3 (SignaturesExist | AppendOnly).
    let form_id = crate::form::form_in_update(&mut update, catalog_id)?;
    crate::form::append_in_update(
        &mut update,
        form_id,
        b"Fields",
        vec![Object::Reference(field_id)],
    )?;
    set(&mut update, form_id, "SigFlags", Object::Integer(3))?;

    Ok(update)
}

/// `pdf` parsed for an incremental update: stream contents are never part of a signing or
/// validation-data revision, so they are dropped as they are read, and a 100 MB scan costs
/// its parse, not its memory.
pub(crate) fn load_for_update(pdf: &[u8]) -> Result<Document, SignError> {
    Document::load_mem_with_options(
        pdf,
        LoadOptions {
            filter: Some(drop_stream_content),
            ..LoadOptions::default()
        },
    )
    .map_err(pdf_error)
}

/// An empty incremental update of `document` (parsed from `pdf`), whose new objects take
/// numbers above every number the file may use (trailer `/Size` - 1), never below.
pub(crate) fn update_of(pdf: &[u8], document: Document, size: i64) -> IncrementalDocument {
    // lopdf writes the previous bytes verbatim before the update and counts them for the
    // offsets. It gets an untouched zeroed buffer of the same length (calloc'd pages: no copy,
    // no page faults) that `UpdateOnly` counts and drops; the real bytes are never copied.
    let mut update = IncrementalDocument::create_from(vec![0; pdf.len()], document);
    let floor = u32::try_from(size.saturating_sub(1)).unwrap_or(0);
    update.new_document.max_id = update.new_document.max_id.max(floor);
    update
}

/// The bytes of `document`'s update alone (what follows the `previous_len` bytes it
/// extends).
pub(crate) fn written_update(
    previous_len: usize,
    document: &mut IncrementalDocument,
    capacity: usize,
) -> Result<Vec<u8>, SignError> {
    let mut writer = UpdateOnly {
        skip: previous_len,
        seen: 0,
        update: Vec::with_capacity(capacity),
    };
    document
        .save_to(&mut writer)
        .map_err(|e| invalid(format!("save: {e}")))?;
    if writer.seen != previous_len {
        return Err(invalid(
            "the update was written without the previous revision",
        ));
    }
    Ok(writer.update)
}

/// Load filter: keeps every object, without the content of ordinary streams (object and
/// cross-reference streams are kept whole). lopdf keeps the object as the filter left it
/// (and, inside object streams, the one it returns), and re-reads streams left *empty* from
/// the file: a one-byte stand-in avoids that. Nothing in a signing revision copies an old
/// stream, so the stand-in is never written.
fn drop_stream_content(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(stream) = object {
        let kind = stream.dict.get(b"Type").and_then(Object::as_name).ok();
        if !matches!(kind, Some(b"ObjStm" | b"XRef")) {
            stream.content = vec![b'\n'];
        }
    }
    Some((id, object.clone()))
}

/// A writer that counts the first `skip` bytes (lopdf's copy of the previous revision) and
/// keeps the rest (the update).
struct UpdateOnly {
    skip: usize,
    seen: usize,
    update: Vec<u8>,
}

impl std::io::Write for UpdateOnly {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let skipped = self.skip.saturating_sub(self.seen).min(buf.len());
        self.seen += skipped;
        self.update.extend_from_slice(&buf[skipped..]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

pub(crate) fn set(
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

/// A signature revision waiting for its CMS: the previous bytes (borrowed, never copied)
/// and the update after them.
#[derive(Debug)]
pub struct Pending<'a> {
    previous: &'a [u8],
    update: Vec<u8>,
    /// The `<` and one past the `>` of the Contents placeholder, inside `update`.
    gap_start: usize,
    gap_end: usize,
    digest: [u8; 32],
}

impl<'a> Pending<'a> {
    /// Writes the update, patches the ByteRange in place and hashes everything but the
    /// Contents gap. Only the update is searched and patched: the earlier bytes are never
    /// touched.
    fn new(
        previous: &'a [u8],
        document: &mut IncrementalDocument,
        reserve: usize,
        previous_hash: Sha256,
    ) -> Result<Self, SignError> {
        let mut update = written_update(previous.len(), document, reserve * 2 + 16 * 1024)?;
        let base = previous.len();
        let placeholder = format!(
            "[0 {BYTE_RANGE_PLACEHOLDER} {BYTE_RANGE_PLACEHOLDER} {BYTE_RANGE_PLACEHOLDER}]"
        );
        let range_at = find(&update, placeholder.as_bytes(), 0)
            .ok_or_else(|| invalid("ByteRange placeholder not written"))?;
        let zeros = format!("<{}>", "0".repeat(reserve * 2));
        let gap_start = find(&update, zeros.as_bytes(), 0)
            .ok_or_else(|| invalid("Contents placeholder not written"))?;
        let gap_end = gap_start + zeros.len();
        let total = base + update.len();
        let range = format!(
            "[0 {} {} {}]",
            base + gap_start,
            base + gap_end,
            total - (base + gap_end)
        );
        if range.len() > placeholder.len() {
            return Err(invalid(
                "the file is too large for the ByteRange placeholder",
            ));
        }
        let padded = format!("{range:<width$}", width = placeholder.len());
        update[range_at..range_at + placeholder.len()].copy_from_slice(padded.as_bytes());
        let mut hasher = previous_hash;
        hasher.update(&update[..gap_start]);
        hasher.update(&update[gap_end..]);
        Ok(Self {
            previous,
            update,
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

    fn embed(&mut self, cms: &[u8]) -> Result<(), SignError> {
        let room = self.capacity();
        if cms.len() > room {
            return Err(invalid(format!(
                "the signature ({} bytes) exceeds the reserved {room} bytes",
                cms.len()
            )));
        }
        let hex = hex::encode_upper(cms);
        self.update[self.gap_start + 1..self.gap_start + 1 + hex.len()]
            .copy_from_slice(hex.as_bytes());
        Ok(())
    }

    /// Writes the DER CMS into the reserved gap and returns the signed file.
    pub fn finish(mut self, cms: &[u8]) -> Result<Vec<u8>, SignError> {
        self.embed(cms)?;
        let mut out = Vec::with_capacity(self.previous.len() + self.update.len());
        out.extend_from_slice(self.previous);
        out.extend_from_slice(&self.update);
        Ok(out)
    }

    /// Writes the DER CMS into the reserved gap and the signed file to `out`, without
    /// assembling it in memory (for large files going to disk or S3).
    pub fn finish_to(mut self, cms: &[u8], out: &mut impl std::io::Write) -> Result<(), SignError> {
        self.embed(cms)?;
        out.write_all(self.previous)
            .and_then(|()| out.write_all(&self.update))
            .map_err(|e| invalid(format!("write: {e}")))
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
