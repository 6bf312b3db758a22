//! The envelope's form: every recipient's field created once, before the envelope's first
//! signature ([`prepare`]; in an incremental update when others signed the document before),
//! then filled by its signer inside that signer's signature revision ([`fill`]). Later signatures permit exactly this: new values and appearances on fields that
//! already exist (ISO 32000-1 12.7.4 and 12.8.2.2; pyHanko's difference analysis), never a new
//! annotation or a change to the page.

use std::collections::BTreeMap;

use lopdf::{dictionary, Dictionary, Document, IncrementalDocument, Object, ObjectId};

use crate::algorithm::SignError;
use crate::appearance::{self, Drawing, UprightBox};
use crate::font::{Font, Subset};

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// The signer's signature field (`/FT /Sig`); its appearance is the drawn or typed
    /// signature.
    Signature,
    /// Initials, drawn or typed (a read-only text field whose appearance may be an image).
    Initials,
    /// Free text.
    Text,
    /// A date, as text the envelope formats.
    Date,
    /// A check box (`/Yes` or `/Off`).
    Checkbox,
    /// The completion seal's signature field (invisible): it carries a `/Lock` with
    /// permissions 1 (and every signature field named) from the start, so once the seal
    /// signs, nothing but DSS data and document timestamps may follow (viewers and pyHanko
    /// enforce it; a lock added only when signing would itself be a change the earlier
    /// signatures refuse).
    Seal,
}

/// A field to create, placed as the reader sees the page: points from the top-left corner of
/// the page's visible area, whatever its `/Rotate`.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// `/T`, unique in the document.
    pub name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// 1-based page number.
    pub page: u32,
    /// Points from the left edge of the displayed page.
    pub x: f32,
    /// Points from the top edge of the displayed page.
    pub y: f32,
    /// Width as displayed; 0 with a 0 height makes an invisible signature.
    pub width: f32,
    /// Height as displayed.
    pub height: f32,
}

/// A value one signer gives to one of their fields.
#[derive(Debug, Clone)]
pub enum FieldValue {
    /// Text, a date, typed initials, or a typed signature: drawn in the shipped font.
    Text(String),
    /// A check box's state.
    Checked(bool),
    /// A drawn signature or initials (PNG; transparency is kept). `text` is the value a text
    /// field records (e.g. the initials), ignored for a signature field.
    Drawing {
        /// The PNG file.
        png: Vec<u8>,
        /// The field's textual value.
        text: String,
    },
}

/// A value for the field named `name`.
#[derive(Debug, Clone)]
pub struct FieldFill {
    /// The field's `/T`.
    pub name: String,
    /// Its value.
    pub value: FieldValue,
}

fn invalid(detail: impl Into<String>) -> SignError {
    SignError::Invalid(detail.into())
}

fn pdf_error(err: lopdf::Error) -> SignError {
    SignError::Invalid(format!("PDF: {err}"))
}

fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

fn rectangle(object: &Object) -> Option<[f32; 4]> {
    let items = object.as_array().ok()?;
    if items.len() != 4 {
        return None;
    }
    let v: Vec<f32> = items.iter().filter_map(number).collect();
    let [a, b, c, d] = v[..] else { return None };
    Some([a.min(c), b.min(d), a.max(c), b.max(d)])
}

/// A page attribute, inherited through `/Parent` when the page does not set it (7.7.3.4).
fn inherited<'a>(document: &'a Document, page: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = document.get_dictionary(page).ok()?;
    for _ in 0..64 {
        if let Ok(value) = node.get(key) {
            return match value {
                Object::Reference(id) => document.get_object(*id).ok(),
                other => Some(other),
            };
        }
        let parent = node.get(b"Parent").and_then(Object::as_reference).ok()?;
        node = document.get_dictionary(parent).ok()?;
    }
    None
}

/// The visible area (`/CropBox`, else `/MediaBox`) and the clockwise rotation of a page.
fn page_geometry(document: &Document, page: ObjectId) -> Result<([f32; 4], i64), SignError> {
    let area = inherited(document, page, b"CropBox")
        .and_then(rectangle)
        .or_else(|| inherited(document, page, b"MediaBox").and_then(rectangle))
        .ok_or_else(|| invalid("a page has no usable /MediaBox"))?;
    let rotation = inherited(document, page, b"Rotate")
        .and_then(|r| r.as_i64().ok())
        .unwrap_or(0)
        .rem_euclid(360);
    if rotation % 90 != 0 {
        return Err(invalid(format!("a page has /Rotate {rotation}")));
    }
    Ok((area, rotation))
}

/// The widget rectangle in the page's user space for a box given from the displayed
/// top-left corner, and the upright box its appearance is drawn in.
pub fn place(
    area: [f32; 4],
    rotation: i64,
    spec: &FieldSpec,
) -> Result<([f32; 4], UprightBox), SignError> {
    let [llx, lly, urx, ury] = area;
    let (page_w, page_h) = match rotation {
        90 | 270 => (ury - lly, urx - llx),
        _ => (urx - llx, ury - lly),
    };
    let (x, y, w, h) = (spec.x, spec.y, spec.width, spec.height);
    let finite = [x, y, w, h].iter().all(|v| v.is_finite());
    if !finite || x < 0.0 || y < 0.0 || w < 0.0 || h < 0.0 {
        return Err(invalid(format!(
            "the field {:?} has a negative or non-numeric box",
            spec.name
        )));
    }
    if x + w > page_w + 0.01 || y + h > page_h + 0.01 {
        return Err(invalid(format!(
            "the field {:?} ({x},{y} {w}x{h}) lies outside page {} ({page_w}x{page_h})",
            spec.name, spec.page
        )));
    }
    let rect = match rotation {
        90 => [llx + y, lly + x, llx + y + h, lly + x + w],
        180 => [urx - x - w, lly + y, urx - x, lly + y + h],
        270 => [urx - y - h, ury - x - w, urx - y, ury - x],
        _ => [llx + x, ury - y - h, llx + x + w, ury - y],
    };
    Ok((
        rect,
        UprightBox {
            width: w,
            height: h,
            rotation,
        },
    ))
}

/// A PDF text string: ASCII as is, anything else UTF-16BE with a BOM (7.9.2.2).
pub(crate) fn text_string(value: &str) -> Object {
    if value.is_ascii() {
        Object::String(value.as_bytes().to_vec(), lopdf::StringFormat::Literal)
    } else {
        let mut bytes = vec![0xfe, 0xff];
        bytes.extend(value.encode_utf16().flat_map(u16::to_be_bytes));
        Object::String(bytes, lopdf::StringFormat::Hexadecimal)
    }
}

/// The form dictionary of `document`, if it has one.
fn acro_form(document: &Document) -> Option<&Dictionary> {
    match document.catalog().ok()?.get(b"AcroForm").ok()? {
        Object::Reference(id) => document.get_dictionary(*id).ok(),
        Object::Dictionary(dict) => Some(dict),
        _ => None,
    }
}

/// The top-level field named `name`.
pub fn find_field(document: &Document, name: &str) -> Option<ObjectId> {
    let wanted = text_string(name);
    let fields = acro_form(document)?
        .get(b"Fields")
        .and_then(Object::as_array)
        .ok()?;
    fields.iter().find_map(|field| {
        let id = field.as_reference().ok()?;
        let dict = document.get_dictionary(id).ok()?;
        (dict.get(b"T").ok()? == &wanted).then_some(id)
    })
}

/// The `/Lock` of the completion seal: after it signs, no change at all (P 1, what viewers
/// treat like a certification with no changes allowed; DSS data and document timestamps stay
/// allowed, ISO 32000-2 12.8.2.2.2), and every signature field of `specs` locked by name.
///
/// Only signature fields are named: pyHanko 0.38 reports a locked *text* field's appearance
/// stream as changed in every revision after the lock (its in-place appearance check compares
/// the stream's last change with the previous revision, not the new one), so a lock of all
/// fields would make it refuse the B-LT and B-LTA revisions that must follow the seal. P 1
/// still forbids filling any field after the seal, for pyHanko, viewers and our verifier.
fn seal_lock(specs: &[FieldSpec]) -> Dictionary {
    let names: Vec<Object> = specs
        .iter()
        .filter(|s| matches!(s.kind, FieldKind::Signature | FieldKind::Seal))
        .map(|s| text_string(&s.name))
        .collect();
    dictionary! {
        "Type" => "SigFieldLock",
        "Action" => "Include",
        "Fields" => names,
        "P" => 1,
    }
}

/// The widget of `spec` (placed at `rect` on `page_id`), with its appearance objects added
/// through `add`; `all` are every field made with it (what a seal's lock names).
fn widget(
    spec: &FieldSpec,
    all: &[FieldSpec],
    page_id: ObjectId,
    rect: [f32; 4],
    upright: &UprightBox,
    add: &mut dyn FnMut(Object) -> ObjectId,
) -> Dictionary {
    let mut widget = dictionary! {
        "Type" => "Annot",
        "Subtype" => "Widget",
        "T" => text_string(&spec.name),
        "Rect" => rect.iter().map(|v| Object::Real(*v)).collect::<Vec<_>>(),
        // Print.
        "F" => 4,
        "P" => Object::Reference(page_id),
    };
    if upright.rotation != 0 {
        widget.set("MK", dictionary! { "R" => upright.rotation });
    }
    match spec.kind {
        FieldKind::Signature | FieldKind::Seal => {
            widget.set("FT", "Sig");
            let blank = add(Object::Stream(appearance::blank(upright)));
            widget.set("AP", dictionary! { "N" => Object::Reference(blank) });
            if spec.kind == FieldKind::Seal {
                widget.set("Lock", seal_lock(all));
            }
        }
        FieldKind::Initials | FieldKind::Text | FieldKind::Date => {
            widget.set("FT", "Tx");
            // Read-only: values come through the signing ceremony, not a viewer.
            widget.set("Ff", 1);
            widget.set(
                "DA",
                Object::String(b"/Helv 0 Tf 0 g".to_vec(), lopdf::StringFormat::Literal),
            );
            let blank = add(Object::Stream(appearance::blank(upright)));
            widget.set("AP", dictionary! { "N" => Object::Reference(blank) });
        }
        FieldKind::Checkbox => {
            widget.set("FT", "Btn");
            widget.set("Ff", 1);
            widget.set("V", "Off");
            widget.set("AS", "Off");
            let (on, off) = appearance::checkbox(upright);
            let on = add(Object::Stream(on));
            let off = add(Object::Stream(off));
            widget.set(
                "AP",
                dictionary! { "N" => dictionary! {
                    "Yes" => Object::Reference(on),
                    "Off" => Object::Reference(off),
                } },
            );
        }
    }
    widget
}

/// The form's default appearance and font resources, where the form has none.
fn complete_form(form: &mut Dictionary) {
    form.set("SigFlags", 3);
    // No /NeedAppearances: a viewer must never regenerate appearances after signing.
    form.remove(b"NeedAppearances");
    if !form.has(b"DA") {
        form.set(
            "DA",
            Object::String(b"/Helv 0 Tf 0 g".to_vec(), lopdf::StringFormat::Literal),
        );
    }
    if !form.has(b"DR") {
        form.set(
            "DR",
            dictionary! { "Font" => dictionary! { "Helv" => dictionary! {
                "Type" => "Font",
                "Subtype" => "Type1",
                "BaseFont" => "Helvetica",
                "Encoding" => "WinAnsiEncoding",
            } } },
        );
    }
}

/// Checks `fields` against `document`: names unique, new, without dots; each on a page, inside
/// it. Answers each with its page, widget rectangle and upright box.
fn placements(
    document: &Document,
    fields: &[FieldSpec],
) -> Result<Vec<(ObjectId, [f32; 4], UprightBox)>, SignError> {
    let pages = document.get_pages();
    let mut names = std::collections::HashSet::new();
    fields
        .iter()
        .map(|spec| {
            if spec.name.is_empty() || spec.name.contains('.') {
                return Err(invalid(format!(
                    "the field name {:?} is empty or has a dot",
                    spec.name
                )));
            }
            if !names.insert(spec.name.as_str()) || find_field(document, &spec.name).is_some() {
                return Err(invalid(format!("the field {:?} exists already", spec.name)));
            }
            let page_id = *pages
                .get(&spec.page)
                .ok_or_else(|| invalid(format!("no page {} for {:?}", spec.page, spec.name)))?;
            let (area, rotation) = page_geometry(document, page_id)?;
            let (rect, upright) = place(area, rotation, spec)?;
            Ok((page_id, rect, upright))
        })
        .collect()
}

/// Prepares a document for its recipients: every field exists, with its widget on its page
/// and an appearance, and the form says `/SigFlags 3` and has no `/NeedAppearances`, so each
/// later signature only fills its own fields.
///
/// An unsigned document is rewritten whole (nothing signed can break). A signed one gets the
/// fields in one incremental update that leaves every earlier byte, and so every earlier
/// signature, as it was, and takes signature fields only; a certified one (DocMDP) is
/// refused, saying which permission forbids it.
pub fn prepare(pdf: &[u8], fields: &[FieldSpec]) -> Result<Vec<u8>, SignError> {
    let mut document = Document::load_mem(pdf).map_err(pdf_error)?;
    if document.trailer.has(b"Encrypt") || document.encryption_state.is_some() {
        return Err(invalid("the PDF is encrypted"));
    }
    if gsign_pdf::signatures::is_signed(&document) {
        return prepare_signed(pdf, document, fields);
    }
    let catalog_id = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| invalid("the trailer has no /Root reference"))?;
    let mut created = Vec::new();
    for (spec, (page_id, rect, upright)) in fields.iter().zip(placements(&document, fields)?) {
        let widget = widget(spec, fields, page_id, rect, &upright, &mut |object| {
            document.add_object(object)
        });
        let widget_id = document.add_object(widget);
        let mut annots = match document
            .get_dictionary(page_id)
            .map_err(pdf_error)?
            .get(b"Annots")
        {
            Ok(Object::Array(items)) => items.clone(),
            Ok(Object::Reference(id)) => document
                .get_object(*id)
                .and_then(Object::as_array)
                .cloned()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        annots.push(Object::Reference(widget_id));
        document
            .get_object_mut(page_id)
            .and_then(Object::as_dict_mut)
            .map_err(pdf_error)?
            .set("Annots", Object::Array(annots));
        created.push(Object::Reference(widget_id));
    }
    let mut form = acro_form(&document).cloned().unwrap_or_default();
    let mut all = match form.get(b"Fields") {
        Ok(Object::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    all.extend(created);
    form.set("Fields", Object::Array(all));
    complete_form(&mut form);
    let form_id = document.add_object(form);
    document
        .get_object_mut(catalog_id)
        .and_then(Object::as_dict_mut)
        .map_err(pdf_error)?
        .set("AcroForm", Object::Reference(form_id));
    let mut out = Vec::with_capacity(pdf.len() + 4096);
    document
        .save_to(&mut out)
        .map_err(|e| invalid(format!("save: {e}")))?;
    Ok(out)
}

/// Appends `items` to the array `key` of object `holder` in an incremental update: the
/// holder (and the array, when it is an object of its own) is copied into the update and
/// changed there; a missing array is created.
pub(crate) fn append_in_update(
    update: &mut IncrementalDocument,
    holder: ObjectId,
    key: &[u8],
    items: Vec<Object>,
) -> Result<(), SignError> {
    update
        .opt_clone_object_to_new_document(holder)
        .map_err(pdf_error)?;
    let current = update
        .new_document
        .get_dictionary(holder)
        .map_err(pdf_error)?
        .get(key)
        .ok()
        .cloned();
    let array = match current {
        Some(Object::Reference(array_id)) => {
            update
                .opt_clone_object_to_new_document(array_id)
                .map_err(pdf_error)?;
            if let Ok(Object::Array(existing)) = update.new_document.get_object_mut(array_id) {
                existing.extend(items);
            }
            return Ok(());
        }
        Some(Object::Array(mut existing)) => {
            existing.extend(items);
            existing
        }
        _ => items,
    };
    update
        .new_document
        .get_object_mut(holder)
        .and_then(Object::as_dict_mut)
        .map_err(pdf_error)?
        .set(key.to_vec(), Object::Array(array));
    Ok(())
}

/// The form dictionary's object in an incremental update, ready to change: copied into the
/// update when it is an object of its own; made one (and the catalog pointed at it) when it is
/// inline in the catalog or missing.
pub(crate) fn form_in_update(
    update: &mut IncrementalDocument,
    catalog_id: ObjectId,
) -> Result<ObjectId, SignError> {
    let acroform = update
        .get_prev_documents()
        .get_dictionary(catalog_id)
        .map_err(pdf_error)?
        .get(b"AcroForm")
        .ok()
        .cloned();
    if let Some(Object::Reference(id)) = acroform {
        update
            .opt_clone_object_to_new_document(id)
            .map_err(pdf_error)?;
        return Ok(id);
    }
    let form = match acroform {
        Some(Object::Dictionary(dict)) => dict,
        _ => Dictionary::new(),
    };
    let id = update.new_document.add_object(form);
    update
        .opt_clone_object_to_new_document(catalog_id)
        .map_err(pdf_error)?;
    update
        .new_document
        .get_object_mut(catalog_id)
        .and_then(Object::as_dict_mut)
        .map_err(pdf_error)?
        .set("AcroForm", Object::Reference(id));
    Ok(id)
}

/// [`prepare`] for a document signed already: the fields in one incremental update.
fn prepare_signed(
    pdf: &[u8],
    document: Document,
    fields: &[FieldSpec],
) -> Result<Vec<u8>, SignError> {
    if document.xref_recovery.is_some() {
        return Err(invalid(
            "it is signed and its cross-reference data is damaged: fields cannot be added \
             without invalidating the signatures",
        ));
    }
    // A certification fixes what may follow. P=1: nothing. P=2 and P=3: filling the fields the
    // document has and signing its empty signature fields, but not new visible signature
    // fields (pyHanko refuses those after a certification signature, stricter than Acrobat),
    // and GSign places a new field for every signer.
    match gsign_pdf::signatures::certification_level(&document) {
        Some(1) => {
            return Err(invalid(
                "it is certified with no changes allowed (DocMDP P=1): any field GSign adds \
                 would break the certification; ask its author for an uncertified copy",
            ))
        }
        Some(level) => {
            return Err(invalid(format!(
                "it is certified (DocMDP P={level}): its certification allows filling the \
                 fields it has and signing, not the new signature fields GSign places for \
                 each signer; ask its author for an uncertified copy"
            )))
        }
        None => {}
    }
    // After an approval signature, new signature fields are acceptable changes; new text,
    // date or check box fields are not (pyHanko reports them as illegal modifications).
    if fields
        .iter()
        .any(|f| !matches!(f.kind, FieldKind::Signature | FieldKind::Seal))
    {
        return Err(invalid(
            "it is signed already: GSign can add only signature fields to it; text, date, \
             initials and check box fields would be changes its signatures do not permit",
        ));
    }
    let placed = placements(&document, fields)?;
    let catalog_id = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| invalid("the trailer has no /Root reference"))?;
    let size = document
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    let mut update = IncrementalDocument::create_from(pdf.to_vec(), document);
    // New objects above every number the file may use (trailer /Size - 1), never below.
    let floor = u32::try_from(size.saturating_sub(1)).unwrap_or(0);
    update.new_document.max_id = update.new_document.max_id.max(floor);

    let mut by_page: BTreeMap<ObjectId, Vec<Object>> = BTreeMap::new();
    let mut created = Vec::new();
    for (spec, (page_id, rect, upright)) in fields.iter().zip(placed) {
        let new_document = &mut update.new_document;
        let widget = widget(spec, fields, page_id, rect, &upright, &mut |object| {
            new_document.add_object(object)
        });
        let widget_id = update.new_document.add_object(widget);
        by_page
            .entry(page_id)
            .or_default()
            .push(Object::Reference(widget_id));
        created.push(Object::Reference(widget_id));
    }
    for (page_id, widgets) in by_page {
        append_in_update(&mut update, page_id, b"Annots", widgets)?;
    }
    let form_id = form_in_update(&mut update, catalog_id)?;
    append_in_update(&mut update, form_id, b"Fields", created)?;
    let mut out = Vec::with_capacity(pdf.len() + 4096);
    update
        .save_to(&mut out)
        .map_err(|e| invalid(format!("save: {e}")))?;
    Ok(out)
}

/// An appearance waiting for the revision's font to be embedded.
enum Pending {
    Text(String),
    Image(ObjectId, String),
}

/// Fills `fills` inside the signature revision `update`, whose signature goes into
/// `signature_field`: each field gets its value and a new appearance; a field already filled,
/// another signer's signature field, or a value of the wrong kind is refused.
pub(crate) fn fill(
    update: &mut IncrementalDocument,
    fills: &[FieldFill],
    signature_field: ObjectId,
) -> Result<(), SignError> {
    if fills.is_empty() {
        return Ok(());
    }
    let font = Font::shipped()?;
    let mut subset = Subset::new(&font);
    let mut appearances: BTreeMap<ObjectId, (UprightBox, Pending)> = BTreeMap::new();
    for fill in fills {
        let previous = update.get_prev_documents();
        let id = find_field(previous, &fill.name)
            .ok_or_else(|| invalid(format!("no field {:?} in the document", fill.name)))?;
        let field = previous.get_dictionary(id).map_err(pdf_error)?;
        let kind = field.get(b"FT").and_then(Object::as_name).unwrap_or(b"");
        let rect = field
            .get(b"Rect")
            .ok()
            .and_then(rectangle)
            .ok_or_else(|| invalid(format!("the field {:?} has no /Rect", fill.name)))?;
        let rotation = field
            .get(b"MK")
            .and_then(Object::as_dict)
            .and_then(|mk| mk.get(b"R"))
            .and_then(Object::as_i64)
            .unwrap_or(0);
        let (w, h) = (rect[2] - rect[0], rect[3] - rect[1]);
        let upright = match rotation {
            90 | 270 => UprightBox {
                width: h,
                height: w,
                rotation,
            },
            _ => UprightBox {
                width: w,
                height: h,
                rotation,
            },
        };
        let mut changes = Dictionary::new();
        let filled = || invalid(format!("the field {:?} is filled already", fill.name));
        let pending = match (kind, &fill.value) {
            (b"Sig", _) if id != signature_field => {
                return Err(invalid(format!(
                    "{:?} is another signature field than the one being signed",
                    fill.name
                )))
            }
            (b"Sig", FieldValue::Text(name)) => Some(Pending::Text(appearance::text(
                &upright,
                &font,
                &mut subset,
                name,
            )?)),
            (b"Sig", FieldValue::Drawing { png, .. }) => {
                let drawing = Drawing::from_png(png)?;
                let image = drawing.embed(&mut update.new_document);
                Some(Pending::Image(image, drawing.content(&upright)))
            }
            (b"Tx", _) if field.has(b"V") => return Err(filled()),
            (b"Tx", FieldValue::Text(value)) => {
                changes.set("V", text_string(value));
                Some(Pending::Text(appearance::text(
                    &upright,
                    &font,
                    &mut subset,
                    value,
                )?))
            }
            (b"Tx", FieldValue::Drawing { png, text }) => {
                changes.set("V", text_string(text));
                let drawing = Drawing::from_png(png)?;
                let image = drawing.embed(&mut update.new_document);
                Some(Pending::Image(image, drawing.content(&upright)))
            }
            (b"Btn", _) if !matches!(field.get(b"V"), Ok(Object::Name(n)) if n == b"Off") => {
                return Err(filled())
            }
            (b"Btn", FieldValue::Checked(on)) => {
                let state = if *on { "Yes" } else { "Off" };
                changes.set("V", state);
                changes.set("AS", state);
                None
            }
            _ => {
                return Err(invalid(format!(
                    "the field {:?} cannot take that kind of value",
                    fill.name
                )))
            }
        };
        update
            .opt_clone_object_to_new_document(id)
            .map_err(pdf_error)?;
        let target = update
            .new_document
            .get_object_mut(id)
            .and_then(Object::as_dict_mut)
            .map_err(pdf_error)?;
        for (key, value) in changes {
            target.set(key, value);
        }
        if let Some(pending) = pending {
            if appearances.insert(id, (upright, pending)).is_some() {
                return Err(invalid(format!("the field {:?} is given twice", fill.name)));
            }
        }
    }
    let fonts = if subset.is_empty() {
        None
    } else {
        Some(subset.embed(&mut update.new_document)?)
    };
    for (id, (upright, pending)) in appearances {
        let (resources, content) = match pending {
            Pending::Text(content) => {
                let fonts = fonts
                    .clone()
                    .ok_or_else(|| invalid("typed text without an embedded font"))?;
                (dictionary! { "Font" => fonts }, content)
            }
            Pending::Image(image, content) => (
                dictionary! { "XObject" => dictionary! { "Im1" => Object::Reference(image) } },
                content,
            ),
        };
        let stream = update
            .new_document
            .add_object(upright.form(resources, content));
        update
            .new_document
            .get_object_mut(id)
            .and_then(Object::as_dict_mut)
            .map_err(pdf_error)?
            .set("AP", dictionary! { "N" => Object::Reference(stream) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(x: f32, y: f32, width: f32, height: f32) -> FieldSpec {
        FieldSpec {
            name: "f".into(),
            kind: FieldKind::Text,
            page: 1,
            x,
            y,
            width,
            height,
        }
    }

    const A4: [f32; 4] = [0.0, 0.0, 595.0, 842.0];

    #[test]
    fn boxes_are_placed_from_the_top_left_of_the_displayed_page() {
        let (rect, upright) = place(A4, 0, &spec(10.0, 20.0, 100.0, 30.0)).expect("placed");
        assert_eq!(rect, [10.0, 792.0, 110.0, 822.0]);
        assert_eq!((upright.width, upright.height), (100.0, 30.0));
    }

    #[test]
    fn on_rotated_pages_the_displayed_top_left_is_another_corner() {
        // Displayed landscape (842 wide, 595 high) for 90 and 270.
        let at = spec(10.0, 20.0, 100.0, 30.0);
        assert_eq!(place(A4, 90, &at).expect("90").0, [20.0, 10.0, 50.0, 110.0]);
        assert_eq!(
            place(A4, 180, &at).expect("180").0,
            [485.0, 20.0, 585.0, 50.0]
        );
        assert_eq!(
            place(A4, 270, &at).expect("270").0,
            [545.0, 732.0, 575.0, 832.0]
        );
    }

    #[test]
    fn a_box_off_the_page_or_negative_is_refused() {
        assert!(place(A4, 0, &spec(500.0, 10.0, 100.0, 10.0)).is_err());
        assert!(place(A4, 90, &spec(10.0, 580.0, 10.0, 30.0)).is_err());
        assert!(place(A4, 0, &spec(-1.0, 10.0, 10.0, 10.0)).is_err());
        assert!(place(A4, 0, &spec(f32::NAN, 10.0, 10.0, 10.0)).is_err());
    }

    #[test]
    fn a_cropped_page_measures_from_its_crop_box() {
        let (rect, _) =
            place([100.0, 100.0, 400.0, 500.0], 0, &spec(0.0, 0.0, 50.0, 10.0)).expect("placed");
        assert_eq!(rect, [100.0, 490.0, 150.0, 500.0]);
    }
}
