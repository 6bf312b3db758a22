//! Signatures a PDF carries already: whether it is signed, and the permissions of a
//! certification (DocMDP). Ingest records both, so a sender sees them before building an
//! envelope; preparing a document for signing obeys them.

use lopdf::{Dictionary, Document, Object};

/// The form dictionary of `document`, if it has one.
fn acro_form(document: &Document) -> Option<&Dictionary> {
    match document.catalog().ok()?.get(b"AcroForm").ok()? {
        Object::Reference(id) => document.get_dictionary(*id).ok(),
        Object::Dictionary(dict) => Some(dict),
        _ => None,
    }
}

/// The number of signed signature fields among the form's top-level fields.
pub fn signed_fields(document: &Document) -> u32 {
    let Some(fields) = acro_form(document).and_then(|form| form.get(b"Fields").ok()) else {
        return 0;
    };
    let fields = match fields {
        Object::Array(items) => items.as_slice(),
        Object::Reference(id) => match document.get_object(*id) {
            Ok(Object::Array(items)) => items.as_slice(),
            _ => return 0,
        },
        _ => return 0,
    };
    let signed = fields
        .iter()
        .filter(|field| {
            field
                .as_reference()
                .and_then(|id| document.get_dictionary(id))
                .is_ok_and(|d| {
                    d.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig".as_slice())
                        && d.has(b"V")
                })
        })
        .count();
    u32::try_from(signed).unwrap_or(u32::MAX)
}

/// Whether `document` carries a signature already (a signed field, or the form's
/// `SignaturesExist` flag).
pub fn is_signed(document: &Document) -> bool {
    let flagged = acro_form(document)
        .and_then(|form| form.get(b"SigFlags").and_then(Object::as_i64).ok())
        .is_some_and(|flags| flags & 1 == 1);
    flagged || signed_fields(document) > 0 || document.catalog().is_ok_and(|c| c.has(b"Perms"))
}

/// The DocMDP permissions (1: no changes, 2: form filling and signing, 3: also annotations)
/// of a certified document (ISO 32000-1 12.8.2.2), `None` when it is not certified.
pub fn certification_level(document: &Document) -> Option<i64> {
    let resolve = |object: &Object| -> Option<Dictionary> {
        match object {
            Object::Reference(id) => document.get_dictionary(*id).ok().cloned(),
            Object::Dictionary(dict) => Some(dict.clone()),
            _ => None,
        }
    };
    let perms = resolve(document.catalog().ok()?.get(b"Perms").ok()?)?;
    let signature = resolve(perms.get(b"DocMDP").ok()?)?;
    let references = match signature.get(b"Reference").ok()? {
        Object::Array(items) => items.clone(),
        Object::Reference(id) => document.get_object(*id).ok()?.as_array().ok()?.clone(),
        _ => return Some(2),
    };
    let level = references.iter().find_map(|reference| {
        let reference = resolve(reference)?;
        if reference.get(b"TransformMethod").ok()?.as_name().ok()? != b"DocMDP" {
            return None;
        }
        Some(
            reference
                .get(b"TransformParams")
                .ok()
                .and_then(resolve)
                .and_then(|params| params.get(b"P").and_then(Object::as_i64).ok())
                // Absent: 2 (12.8.2.2.2); anything but 1 to 3 is read as the strictest.
                .map_or(2, |p| if (1..=3).contains(&p) { p } else { 1 }),
        )
    });
    Some(level.unwrap_or(2))
}
