//! The form fields of a PDF (ISO 32000-1 12.7): their full names walking `/Kids`, their
//! types inherited through `/Parent`, and the signature fields among them; what the verifier
//! and the validation-data writer both read.

use std::collections::BTreeSet;

use lopdf::{Dictionary, Document, Object, ObjectId};

pub(crate) fn name_of(object: &Object) -> Option<&[u8]> {
    object.as_name().ok()
}

/// A PDF text string as Rust text (UTF-16BE with BOM, else PDFDocEncoding ≈ Latin-1).
pub(crate) fn text(object: &Object) -> Option<String> {
    let Object::String(bytes, _) = object else {
        return None;
    };
    if let Some(utf16) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        return Some(String::from_utf16_lossy(&units));
    }
    Some(bytes.iter().map(|&b| char::from(b)).collect())
}

/// Every terminal field of the form with its full name, walking `/Kids`.
pub(crate) fn fields(document: &Document) -> Vec<(String, ObjectId)> {
    let form = document
        .catalog()
        .ok()
        .and_then(|c| match c.get(b"AcroForm").ok()? {
            Object::Reference(id) => document.get_dictionary(*id).ok(),
            Object::Dictionary(d) => Some(d),
            _ => None,
        });
    let Some(Ok(top)) = form.map(|f| f.get(b"Fields").and_then(Object::as_array)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack: Vec<(String, ObjectId, usize)> = top
        .iter()
        .rev()
        .filter_map(|o| o.as_reference().ok())
        .map(|id| (String::new(), id, 0))
        .collect();
    let mut seen = BTreeSet::new();
    while let Some((prefix, id, depth)) = stack.pop() {
        if depth > 32 || !seen.insert(id) {
            continue;
        }
        let Ok(dict) = document.get_dictionary(id) else {
            continue;
        };
        let part = dict.get(b"T").ok().and_then(text);
        let name = match (&part, prefix.is_empty()) {
            (Some(p), true) => p.clone(),
            (Some(p), false) => format!("{prefix}.{p}"),
            (None, _) => prefix.clone(),
        };
        // A node whose kids carry names is a parent; kids without names are its widgets.
        let kid_fields: Vec<ObjectId> = dict
            .get(b"Kids")
            .and_then(Object::as_array)
            .map(|kids| {
                kids.iter()
                    .filter_map(|k| k.as_reference().ok())
                    .filter(|k| document.get_dictionary(*k).is_ok_and(|d| d.has(b"T")))
                    .collect()
            })
            .unwrap_or_default();
        if kid_fields.is_empty() {
            out.push((name, id));
        } else {
            for kid in kid_fields.into_iter().rev() {
                stack.push((name.clone(), kid, depth + 1));
            }
        }
    }
    out
}

/// Every signature field (by type, inherited through `/Parent`) with its full name.
pub(crate) fn signature_fields(document: &Document) -> Vec<(String, ObjectId)> {
    fields(document)
        .into_iter()
        .filter(|(_, id)| {
            document
                .get_dictionary(*id)
                .is_ok_and(|d| field_type(document, d).as_deref() == Some(b"Sig"))
        })
        .collect()
}

/// The field type, inherited through `/Parent`.
pub(crate) fn field_type(document: &Document, dict: &Dictionary) -> Option<Vec<u8>> {
    let mut current = dict;
    for _ in 0..32 {
        if let Ok(ft) = current.get(b"FT") {
            return name_of(ft).map(<[u8]>::to_vec);
        }
        let parent = current.get(b"Parent").and_then(Object::as_reference).ok()?;
        current = document.get_dictionary(parent).ok()?;
    }
    None
}
