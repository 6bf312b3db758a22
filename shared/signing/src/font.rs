//! The font that draws typed values (names, dates, text) into field appearances: DejaVu Sans,
//! shipped inside the binary, embedded per revision as a subset (Type0 / CIDFontType2,
//! `/Identity-H`, `/W` widths, a `/ToUnicode` CMap) so that any script it covers renders
//! everywhere and its text can be extracted. DejaVu Sans covers Latin, Greek and Cyrillic,
//! Mongolian Ө ө Ү ү included.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lopdf::{dictionary, Document, Object, ObjectId, Stream, StringFormat};
use sha2::{Digest, Sha256};
use ttf_parser::{Face, GlyphId};

use crate::algorithm::SignError;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `fonts/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The PostScript name the embedded subsets carry, after their six-letter tag.
const POSTSCRIPT_NAME: &str = "DejaVuSans";

/// The shipped font, parsed.
pub struct Font {
    face: Face<'static>,
}

/// Text laid out in the font: the glyphs to show and its width in text-space units (1/1000
/// of the font size).
#[derive(Debug, Clone)]
pub struct Shaped {
    /// Original glyph ids, one per character (no ligatures or reordering: the scripts the
    /// font covers need none).
    pub glyphs: Vec<(u16, char)>,
    /// Advance width at font size 1000.
    pub width: f32,
}

impl Font {
    /// The shipped font. Parsing it cannot fail for the bytes compiled in; a failure would
    /// mean a corrupted build and is reported, not panicked on.
    pub fn shipped() -> Result<Self, SignError> {
        let face = Face::parse(DEJAVU_SANS, 0)
            .map_err(|e| SignError::Invalid(format!("the shipped font: {e}")))?;
        Ok(Self { face })
    }

    fn scale(&self) -> f32 {
        1000.0 / f32::from(self.face.units_per_em())
    }

    /// Lays out `text`; a character the font lacks is an error (never a box in the PDF).
    pub fn shape(&self, text: &str) -> Result<Shaped, SignError> {
        let mut glyphs = Vec::new();
        let mut width = 0.0;
        for ch in text.chars().filter(|c| !c.is_control()) {
            let glyph = self.face.glyph_index(ch).ok_or_else(|| {
                SignError::Invalid(format!(
                    "the font has no glyph for {ch:?} (U+{:04X})",
                    ch as u32
                ))
            })?;
            width += f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0)) * self.scale();
            glyphs.push((glyph.0, ch));
        }
        Ok(Shaped { glyphs, width })
    }

    /// Ascent and descent (descent negative) at font size 1000.
    pub fn vertical_metrics(&self) -> (f32, f32) {
        (
            f32::from(self.face.ascender()) * self.scale(),
            f32::from(self.face.descender()) * self.scale(),
        )
    }
}

/// The glyphs one revision draws, collected across its fields, then embedded once.
pub struct Subset<'f> {
    font: &'f Font,
    remapper: subsetter::GlyphRemapper,
    /// Subset glyph id (= CID) → the character it stands for.
    unicode: BTreeMap<u16, char>,
}

impl<'f> Subset<'f> {
    /// An empty subset of `font`.
    pub fn new(font: &'f Font) -> Self {
        Self {
            font,
            remapper: subsetter::GlyphRemapper::new(),
            unicode: BTreeMap::new(),
        }
    }

    /// The `Tj` operand drawing `shaped`: its CIDs (the subset's glyph ids) as a hex string.
    pub fn encode(&mut self, shaped: &Shaped) -> String {
        let mut hex = String::with_capacity(shaped.glyphs.len() * 4 + 2);
        hex.push('<');
        for &(glyph, ch) in &shaped.glyphs {
            let cid = self.remapper.remap(glyph);
            self.unicode.entry(cid).or_insert(ch);
            let _ = write!(hex, "{cid:04X}");
        }
        hex.push('>');
        hex
    }

    /// Whether anything was drawn with the font (else nothing needs embedding).
    pub fn is_empty(&self) -> bool {
        self.unicode.is_empty()
    }

    /// Adds the Type0 font and its parts to `document`; returns the font dictionary's id.
    pub fn embed(&self, document: &mut Document) -> Result<ObjectId, SignError> {
        let program = subsetter::subset(DEJAVU_SANS, 0, &self.remapper)
            .map_err(|e| SignError::Invalid(format!("font subset: {e:?}")))?;
        // The tag names the subset by its glyphs, so equal subsets get equal names.
        let digest = Sha256::digest(&program);
        let tag: String = digest[..6]
            .iter()
            .map(|b| char::from(b'A' + b % 26))
            .collect();
        let name = format!("{tag}+{POSTSCRIPT_NAME}");
        let face = &self.font.face;
        let scale = self.font.scale();
        let bbox = face.global_bounding_box();
        let (ascent, descent) = self.font.vertical_metrics();
        let program_len = i64::try_from(program.len()).unwrap_or(i64::MAX);
        let file_id = document.add_object(Stream::new(
            dictionary! { "Length1" => program_len, "Filter" => "FlateDecode" },
            crate::appearance::deflate(&program),
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
        for (cid, glyph) in self.remapper.remapped_gids().enumerate() {
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
            crate::appearance::deflate(self.to_unicode().as_bytes()),
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

    /// The ToUnicode CMap (Adobe technical note 5411): every CID back to its character.
    fn to_unicode(&self) -> String {
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let entries: Vec<_> = self.unicode.iter().collect();
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
    fn a_character_the_font_lacks_is_refused_not_drawn_as_a_box() {
        let font = Font::shipped().expect("font");
        assert!(font.shape("名前").is_err());
    }

    #[test]
    fn the_to_unicode_map_maps_each_cid_to_its_character() {
        let font = Font::shipped().expect("font");
        let mut subset = Subset::new(&font);
        let hex = subset.encode(&font.shape("Өө").expect("shape"));
        // CID 0 stays .notdef; the two letters get 1 and 2.
        assert_eq!(hex, "<00010002>");
        let cmap = subset.to_unicode();
        assert!(cmap.contains("<0001> <04E8>"), "{cmap}");
        assert!(cmap.contains("<0002> <04E9>"), "{cmap}");
    }
}
