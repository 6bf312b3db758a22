//! The fonts that draw typed values (names, dates, text) into field appearances and the
//! certificate of completion, shipped inside the binary and embedded per revision as subsets
//! (Type0 / CIDFontType2, `/Identity-H`, `/W` widths, a `/ToUnicode` CMap) so that any script
//! they cover renders everywhere and its text can be extracted.
//!
//! DejaVu Sans draws Latin, Greek and Cyrillic (Mongolian Ө ө Ү ү included); what it lacks
//! falls back, character by character, to Droid Sans Fallback (Chinese, Japanese, Korean and
//! more). Each face a text uses is its own embedded font: resource `/F1` for the first face,
//! `/F2` for the fallback.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lopdf::{dictionary, Document, Object, ObjectId, Stream, StringFormat};
use sha2::{Digest, Sha256};
use ttf_parser::{Face, GlyphId};

use crate::algorithm::SignError;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `fonts/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// Droid Sans Fallback Full (Apache 2.0, see `fonts/DroidSansFallbackFull-LICENSE.txt`).
static DROID_SANS_FALLBACK: &[u8] = include_bytes!("../fonts/DroidSansFallbackFull.ttf");

/// Each shipped face: its bytes and the PostScript name its subsets carry after their tag.
const FACES: [(&[u8], &str); 2] = [
    (DEJAVU_SANS, "DejaVuSans"),
    (DROID_SANS_FALLBACK, "DroidSansFallbackFull"),
];

/// The shipped fonts, parsed: the first face, then its fallback.
pub struct Font {
    faces: Vec<Face<'static>>,
}

/// Text laid out in the fonts: the glyphs to show and its width in text-space units (1/1000
/// of the font size).
#[derive(Debug, Clone)]
pub struct Shaped {
    /// Per character: the face drawing it, its glyph id there, the character (no ligatures
    /// or reordering: the scripts covered need none).
    pub glyphs: Vec<(usize, u16, char)>,
    /// Advance width at font size 1000.
    pub width: f32,
}

/// The resource name of face `index` (`/F1`, `/F2`).
pub fn resource_name(index: usize) -> String {
    format!("F{}", index + 1)
}

impl Font {
    /// The shipped fonts. Parsing cannot fail for the bytes compiled in; a failure would mean
    /// a corrupted build and is reported, not panicked on.
    pub fn shipped() -> Result<Self, SignError> {
        let faces = FACES
            .iter()
            .map(|(bytes, name)| {
                Face::parse(bytes, 0)
                    .map_err(|e| SignError::Invalid(format!("the shipped font {name}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { faces })
    }

    fn scale(&self, face: usize) -> f32 {
        1000.0 / f32::from(self.faces[face].units_per_em())
    }

    /// Lays out `text`, each character in the first face that has it; a character no face
    /// has is an error (never a box in the PDF).
    pub fn shape(&self, text: &str) -> Result<Shaped, SignError> {
        let mut glyphs = Vec::new();
        let mut width = 0.0;
        for ch in text.chars().filter(|c| !c.is_control()) {
            let (face, glyph) = self
                .faces
                .iter()
                .enumerate()
                .find_map(|(i, face)| Some((i, face.glyph_index(ch)?)))
                .ok_or_else(|| {
                    SignError::Invalid(format!(
                        "the fonts have no glyph for {ch:?} (U+{:04X})",
                        ch as u32
                    ))
                })?;
            width += f32::from(self.faces[face].glyph_hor_advance(glyph).unwrap_or(0))
                * self.scale(face);
            glyphs.push((face, glyph.0, ch));
        }
        Ok(Shaped { glyphs, width })
    }

    /// Ascent and descent (descent negative) of the first face at font size 1000.
    pub fn vertical_metrics(&self) -> (f32, f32) {
        (
            f32::from(self.faces[0].ascender()) * self.scale(0),
            f32::from(self.faces[0].descender()) * self.scale(0),
        )
    }
}

/// The glyphs one face draws in a revision.
struct Part {
    remapper: subsetter::GlyphRemapper,
    /// Subset glyph id (= CID) → the character it stands for.
    unicode: BTreeMap<u16, char>,
}

/// The glyphs one revision draws, collected across its fields, then embedded once per face.
pub struct Subset<'f> {
    font: &'f Font,
    parts: Vec<Part>,
}

impl<'f> Subset<'f> {
    /// An empty subset of `font`.
    pub fn new(font: &'f Font) -> Self {
        Self {
            font,
            parts: font
                .faces
                .iter()
                .map(|_| Part {
                    remapper: subsetter::GlyphRemapper::new(),
                    unicode: BTreeMap::new(),
                })
                .collect(),
        }
    }

    /// The operators showing `shaped` at `size` from the current text position: for each run
    /// of one face, `/Fn size Tf <CIDs> Tj`.
    pub fn show(&mut self, shaped: &Shaped, size: f32) -> String {
        let mut out = String::new();
        let mut current: Option<usize> = None;
        for &(face, glyph, ch) in &shaped.glyphs {
            if current != Some(face) {
                if current.is_some() {
                    out.push_str("> Tj ");
                }
                let _ = write!(out, "/{} {size:.2} Tf <", resource_name(face));
                current = Some(face);
            }
            let part = &mut self.parts[face];
            let cid = part.remapper.remap(glyph);
            part.unicode.entry(cid).or_insert(ch);
            let _ = write!(out, "{cid:04X}");
        }
        if current.is_some() {
            out.push_str("> Tj");
        }
        out
    }

    /// Whether anything was drawn with the fonts (else nothing needs embedding).
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| p.unicode.is_empty())
    }

    /// Embeds every face the revision used; their resource names and font dictionaries, for
    /// the `/Font` resources of whatever shows the text.
    pub fn embed(&self, document: &mut Document) -> Result<lopdf::Dictionary, SignError> {
        let mut fonts = lopdf::Dictionary::new();
        for (index, part) in self.parts.iter().enumerate() {
            if !part.unicode.is_empty() {
                let id = self.embed_face(document, index)?;
                fonts.set(resource_name(index), Object::Reference(id));
            }
        }
        Ok(fonts)
    }

    /// Adds face `index`'s Type0 font and its parts to `document`; returns its id.
    fn embed_face(&self, document: &mut Document, index: usize) -> Result<ObjectId, SignError> {
        let part = &self.parts[index];
        let (bytes, postscript_name) = FACES[index];
        let program = subsetter::subset(bytes, 0, &part.remapper)
            .map_err(|e| SignError::Invalid(format!("font subset: {e:?}")))?;
        // The tag names the subset by its glyphs, so equal subsets get equal names.
        let digest = Sha256::digest(&program);
        let tag: String = digest[..6]
            .iter()
            .map(|b| char::from(b'A' + b % 26))
            .collect();
        let name = format!("{tag}+{postscript_name}");
        let face = &self.font.faces[index];
        let scale = self.font.scale(index);
        let bbox = face.global_bounding_box();
        let (ascent, descent) = (
            f32::from(face.ascender()) * scale,
            f32::from(face.descender()) * scale,
        );
        let program_len = i64::try_from(program.len()).unwrap_or(i64::MAX);
        let file_id = document.add_object(Stream::new(
            dictionary! { "Length1" => program_len, "Filter" => "FlateDecode" },
            crate::stream::deflate(&program),
        ));
        let descriptor_id = document.add_object(dictionary! {
            "Type" => "FontDescriptor",
            "FontName" => Object::Name(name.clone().into_bytes()),
            // Nonsymbolic.
            "Flags" => 32,
            "FontBBox" => vec![
                Object::Real(f32::from(bbox.x_min) * scale),
                Object::Real(f32::from(bbox.y_min) * scale),
                Object::Real(f32::from(bbox.x_max) * scale),
                Object::Real(f32::from(bbox.y_max) * scale),
            ],
            "ItalicAngle" => 0,
            "Ascent" => Object::Real(ascent),
            "Descent" => Object::Real(descent),
            "CapHeight" => Object::Real(f32::from(face.capital_height().unwrap_or(0)) * scale),
            "StemV" => 80,
            "FontFile2" => Object::Reference(file_id),
        });
        let mut widths = Vec::new();
        for (cid, glyph) in part.remapper.remapped_gids().enumerate() {
            let advance = f32::from(face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0)) * scale;
            widths.push(Object::Integer(i64::try_from(cid).unwrap_or(0)));
            widths.push(Object::Array(vec![Object::Real(advance.round())]));
        }
        let cid_font_id = document.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "CIDFontType2",
            "BaseFont" => Object::Name(name.clone().into_bytes()),
            "CIDSystemInfo" => dictionary! {
                "Registry" => Object::String(b"Adobe".to_vec(), StringFormat::Literal),
                "Ordering" => Object::String(b"Identity".to_vec(), StringFormat::Literal),
                "Supplement" => 0,
            },
            "FontDescriptor" => Object::Reference(descriptor_id),
            "W" => widths,
            "CIDToGIDMap" => "Identity",
        });
        let to_unicode_id = document.add_object(Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            crate::stream::deflate(to_unicode(&part.unicode).as_bytes()),
        ));
        Ok(document.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type0",
            "BaseFont" => Object::Name(name.into_bytes()),
            "Encoding" => "Identity-H",
            "DescendantFonts" => vec![Object::Reference(cid_font_id)],
            "ToUnicode" => Object::Reference(to_unicode_id),
        }))
    }
}

/// The ToUnicode CMap (Adobe technical note 5411): every CID back to its character.
fn to_unicode(unicode: &BTreeMap<u16, char>) -> String {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = unicode.iter().collect();
    // At most 100 entries per block (PDF/CMap limit).
    for block in entries.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for (cid, ch) in block {
            let mut utf16 = [0u16; 2];
            let units: String = ch
                .encode_utf16(&mut utf16)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(cmap, "<{cid:04X}> <{units}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_font_covers_mongolian_cyrillic() {
        let font = Font::shipped().expect("font");
        let shaped = font.shape("Батбаяр Өлзий өҮү").expect("every glyph");
        assert_eq!(shaped.glyphs.len(), 17);
        assert!(shaped.width > 0.0);
    }

    #[test]
    fn chinese_falls_back_to_the_second_face_and_unknown_characters_are_refused() {
        let font = Font::shipped().expect("font");
        let shaped = font.shape("陈静 Ana 名前").expect("every glyph");
        let faces: Vec<usize> = shaped.glyphs.iter().map(|g| g.0).collect();
        assert_eq!(faces, [1, 1, 0, 0, 0, 0, 0, 1, 1]);
        // A private-use code point no face has.
        assert!(font.shape("\u{F8FF}").is_err());
    }

    #[test]
    fn each_face_run_gets_its_font_and_the_to_unicode_maps_each_cid_to_its_character() {
        let font = Font::shipped().expect("font");
        let mut subset = Subset::new(&font);
        let shown = subset.show(&font.shape("Өө陈").expect("shape"), 10.0);
        // CID 0 stays .notdef; the letters get 1 and 2 in the first face, 1 in the fallback.
        assert_eq!(shown, "/F1 10.00 Tf <00010002> Tj /F2 10.00 Tf <0001> Tj");
        let cmap = to_unicode(&subset.parts[0].unicode);
        assert!(cmap.contains("<0001> <04E8>"), "{cmap}");
        assert!(cmap.contains("<0002> <04E9>"), "{cmap}");
        assert!(to_unicode(&subset.parts[1].unicode).contains("<0001> <9648>"));
    }
}
