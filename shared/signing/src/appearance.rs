//! Appearance streams (ISO 32000-1 12.5.5) for the values a signer gives: typed text in the
//! shipped font, a drawn PNG with its transparency, a check mark. Each is a Form XObject
//! drawn in the field's *upright* box; a `/Matrix` turns it with the page so that it reads
//! upright on rotated pages too.

use std::io::Cursor;

use lopdf::{dictionary, Dictionary, Document, Object, ObjectId, Stream};

use crate::algorithm::SignError;
use crate::font::{Font, Subset};
use crate::stream::deflate;

/// The largest drawing accepted, in pixels per side (a signature pad gives far less).
pub const MAX_IMAGE_SIDE: u32 = 4096;

fn real(value: f32) -> Object {
    Object::Real(value)
}

/// A field's box as the reader sees it: width and height upright, and the page rotation
/// (0, 90, 180 or 270) that the appearance must follow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UprightBox {
    /// Width in points, as displayed.
    pub width: f32,
    /// Height in points, as displayed.
    pub height: f32,
    /// The page's `/Rotate`, clockwise.
    pub rotation: i64,
}

impl UprightBox {
    /// The `/Matrix` that maps the upright box `[0 0 width height]` onto the widget's
    /// rectangle in the page's (unrotated) user space.
    pub fn matrix(&self) -> [f32; 6] {
        let (w, h) = (self.width, self.height);
        match self.rotation {
            90 => [0.0, 1.0, -1.0, 0.0, h, 0.0],
            180 => [-1.0, 0.0, 0.0, -1.0, w, h],
            270 => [0.0, -1.0, 1.0, 0.0, 0.0, w],
            _ => [1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        }
    }

    /// A Form XObject with `content` drawn in this box.
    pub fn form(&self, resources: Dictionary, content: String) -> Stream {
        Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => vec![real(0.0), real(0.0), real(self.width), real(self.height)],
                "Matrix" => self.matrix().iter().copied().map(real).collect::<Vec<_>>(),
                "Resources" => resources,
                "Filter" => "FlateDecode",
            },
            deflate(content.as_bytes()),
        )
    }
}

/// An empty appearance, for a field not yet filled (PDF 2.0 wants one on every widget).
pub fn blank(upright: &UprightBox) -> Stream {
    upright.form(Dictionary::new(), String::new())
}

/// The check box's two states: a frame, and the frame with a check mark.
pub fn checkbox(upright: &UprightBox) -> (Stream, Stream) {
    let (w, h) = (upright.width, upright.height);
    let frame = format!(
        "q 0.5 w 0.4 G 0.25 0.25 {:.2} {:.2} re S Q\n",
        w - 0.5,
        h - 0.5
    );
    let line = (w.min(h) * 0.12).max(0.8);
    let check = format!(
        "{frame}q {line:.2} w 0 G 1 J 1 j {:.2} {:.2} m {:.2} {:.2} l {:.2} {:.2} l S Q\n",
        w * 0.2,
        h * 0.52,
        w * 0.42,
        h * 0.25,
        w * 0.8,
        h * 0.78
    );
    (
        upright.form(Dictionary::new(), check),
        upright.form(Dictionary::new(), frame),
    )
}

/// Typed text, one line, as large as fits the box (at most 70 % of its height), left-aligned
/// with a small inset and vertically centred. The text's glyphs join `subset`; the returned
/// stream names the fonts `/F1` and `/F2`, which the caller points at the embedded subsets.
pub fn text(
    upright: &UprightBox,
    font: &Font,
    subset: &mut Subset<'_>,
    value: &str,
) -> Result<String, SignError> {
    let shaped = font.shape(value)?;
    let inset = 2.0_f32.min(upright.width * 0.05);
    let (ascent, descent) = font.vertical_metrics();
    let line_height = (ascent - descent) / 1000.0;
    let mut size = (upright.height * 0.7).min(upright.height / line_height);
    if shaped.width > 0.0 {
        size = size.min((upright.width - 2.0 * inset) / (shaped.width / 1000.0));
    }
    let size = size.max(1.0);
    let baseline = (upright.height - size * line_height) / 2.0 - descent / 1000.0 * size;
    let shown = subset.show(&shaped, size);
    Ok(format!(
        "/Tx BMC q BT 0 g {inset:.2} {baseline:.2} Td {shown} ET Q EMC\n"
    ))
}

/// A decoded drawing: RGB samples and the alpha channel, 8 bits each.
#[derive(Debug)]
pub struct Drawing {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    alpha: Vec<u8>,
}

impl Drawing {
    /// Decodes a PNG (any colour type or depth; palette and tRNS transparency included),
    /// refusing anything larger than [`MAX_IMAGE_SIDE`] before decompressing it.
    pub fn from_png(bytes: &[u8]) -> Result<Self, SignError> {
        let bad = |e: &dyn std::fmt::Display| SignError::Invalid(format!("the drawing: {e}"));
        let side = usize::try_from(MAX_IMAGE_SIDE).unwrap_or(usize::MAX);
        let mut decoder = png::Decoder::new_with_limits(
            Cursor::new(bytes),
            png::Limits {
                bytes: side * side * 4,
            },
        );
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
        let (width, height) = {
            let info = reader.info();
            (info.width, info.height)
        };
        if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
            return Err(SignError::Invalid(format!(
                "the drawing is {width}x{height} pixels; at most {MAX_IMAGE_SIDE} a side"
            )));
        }
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| SignError::Invalid("the drawing is too large".into()))?;
        let mut buffer = vec![0; size];
        let frame = reader.next_frame(&mut buffer).map_err(|e| bad(&e))?;
        let samples = &buffer[..frame.buffer_size()];
        let pixels = (width as usize) * (height as usize);
        let mut rgb = Vec::with_capacity(pixels * 3);
        let mut alpha = Vec::with_capacity(pixels);
        match frame.color_type {
            png::ColorType::Rgba => samples.chunks_exact(4).for_each(|p| {
                rgb.extend_from_slice(&p[..3]);
                alpha.push(p[3]);
            }),
            png::ColorType::Rgb => samples.chunks_exact(3).for_each(|p| {
                rgb.extend_from_slice(p);
                alpha.push(255);
            }),
            png::ColorType::GrayscaleAlpha => samples.chunks_exact(2).for_each(|p| {
                rgb.extend_from_slice(&[p[0], p[0], p[0]]);
                alpha.push(p[1]);
            }),
            png::ColorType::Grayscale => samples.iter().for_each(|&g| {
                rgb.extend_from_slice(&[g, g, g]);
                alpha.push(255);
            }),
            png::ColorType::Indexed => {
                return Err(SignError::Invalid(
                    "the drawing's palette was not expanded".into(),
                ))
            }
        }
        Ok(Self {
            width,
            height,
            rgb,
            alpha,
        })
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Adds the image (and its `/SMask` when not opaque) to `document`.
    pub fn embed(&self, document: &mut Document) -> ObjectId {
        let image = |colour: &str, samples: &[u8]| {
            Stream::new(
                dictionary! {
                    "Type" => "XObject",
                    "Subtype" => "Image",
                    "Width" => i64::from(self.width),
                    "Height" => i64::from(self.height),
                    "ColorSpace" => colour,
                    "BitsPerComponent" => 8,
                    "Filter" => "FlateDecode",
                },
                deflate(samples),
            )
        };
        let mut colour = image("DeviceRGB", &self.rgb);
        if self.alpha.iter().any(|&a| a != 255) {
            let mask = document.add_object(image("DeviceGray", &self.alpha));
            colour.dict.set("SMask", Object::Reference(mask));
        }
        document.add_object(colour)
    }

    /// The content drawing the image `/Im1` as large as fits the box, centred, aspect kept.
    pub fn content(&self, upright: &UprightBox) -> String {
        let (iw, ih) = (self.width as f32, self.height as f32);
        let scale = (upright.width / iw).min(upright.height / ih);
        let (w, h) = (iw * scale, ih * scale);
        let (x, y) = ((upright.width - w) / 2.0, (upright.height - h) / 2.0);
        format!("q {w:.3} 0 0 {h:.3} {x:.3} {y:.3} cm /Im1 Do Q\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_maps_the_upright_box_onto_the_rotated_rectangle() {
        // A 100 x 20 box on a page rotated 90: the rectangle is 20 wide and 100 high.
        let upright = UprightBox {
            width: 100.0,
            height: 20.0,
            rotation: 90,
        };
        let [a, b, c, d, e, f] = upright.matrix();
        let map = |u: f32, v: f32| (a * u + c * v + e, b * u + d * v + f);
        let corners = [
            map(0.0, 0.0),
            map(100.0, 0.0),
            map(0.0, 20.0),
            map(100.0, 20.0),
        ];
        for (x, y) in corners {
            assert!(
                (0.0..=20.0).contains(&x) && (0.0..=100.0).contains(&y),
                "{x},{y}"
            );
        }
        // Reading direction (u grows) runs up the unrotated page, i.e. left to right on screen.
        assert_eq!(map(100.0, 0.0), (20.0, 100.0));
    }

    #[test]
    fn a_png_with_transparency_keeps_its_alpha() {
        let mut bytes = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut bytes, 2, 1);
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().expect("header");
            writer
                .write_image_data(&[0, 0, 255, 255, 0, 0, 0, 0])
                .expect("data");
        }
        let drawing = Drawing::from_png(&bytes).expect("decoded");
        assert_eq!(drawing.rgb, vec![0, 0, 255, 0, 0, 0]);
        assert_eq!(drawing.alpha, vec![255, 0]);
        let mut document = Document::with_version("1.7");
        let id = drawing.embed(&mut document);
        let stream = document
            .get_object(id)
            .and_then(Object::as_stream)
            .expect("image");
        assert!(stream.dict.has(b"SMask"));
    }

    #[test]
    fn a_file_that_is_not_a_png_is_refused() {
        assert!(Drawing::from_png(b"GIF89a...").is_err());
    }
}
