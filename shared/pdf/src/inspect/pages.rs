//! The page tree: every page's size and rotation, and whether its content parses.

use std::collections::HashSet;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::load::DecompressBudget;
use super::Deadline;
use crate::{Limits, PageInfo, Rejection};

/// The page attributes a page inherits from its ancestors in the page tree.
#[derive(Clone, Copy, Default)]
struct Inherited<'a> {
    media_box: Option<&'a Object>,
    crop_box: Option<&'a Object>,
    rotate: Option<&'a Object>,
}

impl<'a> Inherited<'a> {
    fn overridden_by(self, node: &'a Dictionary) -> Self {
        Inherited {
            media_box: node.get(b"MediaBox").ok().or(self.media_box),
            crop_box: node.get(b"CropBox").ok().or(self.crop_box),
            rotate: node.get(b"Rotate").ok().or(self.rotate),
        }
    }
}

/// Walk the page tree from the catalog, iteratively and in page order.
///
/// Stricter than lopdf's own `page_iter` (which later code uses), so that the two agree on
/// every accepted file: every kid must be a reference to a dictionary typed `/Pages` or
/// `/Page`, no node may appear twice, and the root must be a `/Pages` node.
pub(super) fn read_pages(
    document: &Document,
    limits: &Limits,
    mut budget: DecompressBudget,
    deadline: &Deadline<'_>,
) -> Result<Vec<PageInfo>, Rejection> {
    let root = document
        .catalog()
        .map_err(|_| Rejection::damaged("it has no document catalog"))?
        .get(b"Pages")
        .and_then(Object::as_reference)
        .map_err(|_| Rejection::damaged("it has no page tree"))?;
    let mut pending: Vec<(ObjectId, Inherited<'_>, usize)> = vec![(root, Inherited::default(), 1)];
    let mut seen = HashSet::new();
    let mut pages = Vec::new();
    while let Some((id, inherited, level)) = pending.pop() {
        if level > limits.max_depth {
            return Err(Rejection::TooDeep {
                limit: limits.max_depth,
            });
        }
        if !seen.insert(id) {
            return Err(Rejection::damaged(
                "its page tree has a loop or a shared node",
            ));
        }
        let node = document
            .get_dictionary(id)
            .map_err(|_| Rejection::damaged("a node of its page tree is missing"))?;
        let inherited = inherited.overridden_by(node);
        match node.get_type() {
            Ok(b"Pages") => {
                let kids = node
                    .get_deref(b"Kids", document)
                    .and_then(Object::as_array)
                    .map_err(|_| Rejection::damaged("a node of its page tree has no /Kids"))?;
                // Reversed onto the stack, so pages come off it in order.
                for kid in kids.iter().rev() {
                    let kid = kid.as_reference().map_err(|_| {
                        Rejection::damaged("its page tree has a kid that is not a reference")
                    })?;
                    pending.push((kid, inherited, level + 1));
                }
            }
            Ok(b"Page") if level > 1 => {
                if pages.len() >= usize::try_from(limits.max_pages).unwrap_or(usize::MAX) {
                    return Err(Rejection::TooManyPages {
                        limit: limits.max_pages,
                    });
                }
                let number = pages.len() + 1;
                pages.push(page_info(document, &inherited, number)?);
                check_content(document, id, number, &mut budget)?;
                deadline.check()?;
            }
            Ok(b"Page") => {
                return Err(Rejection::damaged(
                    "the root of its page tree is a page, not /Pages",
                ))
            }
            _ => {
                return Err(Rejection::damaged(
                    "a node of its page tree is neither /Pages nor /Page",
                ))
            }
        }
    }
    if pages.is_empty() {
        return Err(Rejection::NoPages);
    }
    Ok(pages)
}

fn page_info(
    document: &Document,
    inherited: &Inherited<'_>,
    number: usize,
) -> Result<PageInfo, Rejection> {
    let media_box = inherited
        .media_box
        .and_then(|value| read_box(document, value))
        .ok_or_else(|| Rejection::damaged(format!("page {number} has no valid /MediaBox")))?;
    // As pdf.js: a CropBox that is unreadable or misses the MediaBox is ignored.
    let shown = inherited
        .crop_box
        .and_then(|value| read_box(document, value))
        .and_then(|crop_box| crop_box.intersect(&media_box))
        .unwrap_or(media_box);
    Ok(PageInfo {
        width: round_to_thousandths(shown.upper_x - shown.lower_x),
        height: round_to_thousandths(shown.upper_y - shown.lower_y),
        rotation: inherited
            .rotate
            .map_or(0, |value| read_rotation(document, value)),
    })
}

/// A rectangle with its corners normalised.
#[derive(Clone, Copy)]
struct Rect {
    lower_x: f64,
    lower_y: f64,
    upper_x: f64,
    upper_y: f64,
}

impl Rect {
    fn intersect(&self, other: &Rect) -> Option<Rect> {
        Rect {
            lower_x: self.lower_x.max(other.lower_x),
            lower_y: self.lower_y.max(other.lower_y),
            upper_x: self.upper_x.min(other.upper_x),
            upper_y: self.upper_y.min(other.upper_y),
        }
        .non_empty()
    }

    fn non_empty(self) -> Option<Rect> {
        (self.upper_x > self.lower_x && self.upper_y > self.lower_y).then_some(self)
    }
}

/// A page box: an array of four finite numbers spanning a non-empty area.
fn read_box(document: &Document, value: &Object) -> Option<Rect> {
    let (_, array) = document.dereference(value).ok()?;
    let [a, b, c, d] = array.as_array().ok()?.as_slice() else {
        return None;
    };
    let number = |value: &Object| -> Option<f64> {
        let (_, value) = document.dereference(value).ok()?;
        let number = f64::from(value.as_float().ok()?);
        number.is_finite().then_some(number)
    };
    let (x1, y1, x2, y2) = (number(a)?, number(b)?, number(c)?, number(d)?);
    Rect {
        lower_x: x1.min(x2),
        lower_y: y1.min(y2),
        upper_x: x1.max(x2),
        upper_y: y1.max(y2),
    }
    .non_empty()
}

/// `/Rotate` normalised to 0, 90, 180 or 270; a value that is no multiple of 90 is ignored,
/// as pdf.js does.
fn read_rotation(document: &Document, value: &Object) -> u16 {
    let degrees = match document.dereference(value) {
        Ok((_, Object::Integer(degrees))) => *degrees,
        Ok((_, Object::Real(degrees))) if degrees.fract() == 0.0 && degrees.abs() < 1e9 => {
            *degrees as i64
        }
        _ => return 0,
    };
    if degrees % 90 != 0 {
        return 0;
    }
    u16::try_from(degrees.rem_euclid(360)).unwrap_or(0)
}

fn round_to_thousandths(points: f64) -> f64 {
    (points * 1000.0).round() / 1000.0
}

/// Decode the page's content streams (charged to the budget) and parse their operations.
fn check_content(
    document: &Document,
    page: ObjectId,
    number: usize,
    budget: &mut DecompressBudget,
) -> Result<(), Rejection> {
    let mut content = Vec::new();
    for stream_id in document.get_page_contents(page) {
        let stream = match document.get_object(stream_id) {
            Ok(Object::Stream(stream)) => stream,
            // A reference to an object that does not exist is null: no content.
            Err(_) => continue,
            Ok(_) => {
                return Err(Rejection::damaged(format!(
                    "page {number} has content that is not a stream"
                )))
            }
        };
        let data = budget.decode(stream)?.ok_or_else(|| {
            Rejection::damaged(format!("a content stream of page {number} does not decode"))
        })?;
        content.extend_from_slice(&data);
        // Streams of a page join at token boundaries.
        content.push(b'\n');
    }
    for operation in Content::decode_iter(&content) {
        operation.map_err(|_| {
            Rejection::damaged(format!("the content of page {number} is malformed"))
        })?;
    }
    Ok(())
}
