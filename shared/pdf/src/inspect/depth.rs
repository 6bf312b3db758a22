//! Nesting depth of arrays and dictionaries, measured without recursion.
//!
//! Depth counts containers: `[1]` is 1 deep, `<< /A [1] >>` is 2. A stream counts as its
//! dictionary. Both functions measure the same thing, one on bytes, one on parsed objects.

use lopdf::{Dictionary, Object};

/// Whether any object in `bytes`, read as PDF syntax, nests deeper than `max_depth`.
///
/// A single linear pass over the raw bytes, before lopdf's (recursive) parser sees them. It
/// skips comments, strings and stream data, and starts counting afresh at each `obj` and
/// `endobj`, so junk between objects cannot add up. Objects inside compressed object streams
/// are scanned the same way once decompressed (see `load`).
pub(super) fn scan_exceeds(bytes: &[u8], max_depth: usize) -> bool {
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'%' => at = skip_line(bytes, at),
            b'(' => at = skip_literal_string(bytes, at),
            b'<' if bytes.get(at + 1) == Some(&b'<') => {
                depth += 1;
                at += 2;
            }
            // A hexadecimal string.
            b'<' => at = find_byte(bytes, at, b'>').map_or(bytes.len(), |end| end + 1),
            b'>' if bytes.get(at + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                at += 2;
            }
            b'[' => {
                depth += 1;
                at += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'/' => at = skip_regular(bytes, at + 1),
            byte if is_regular(byte) => {
                let end = skip_regular(bytes, at);
                match &bytes[at..end] {
                    b"stream" => match find(bytes, end, b"endstream") {
                        Some(data_end) => at = data_end + b"endstream".len(),
                        // Unterminated stream: the rest is data.
                        None => return false,
                    },
                    b"obj" | b"endobj" => {
                        depth = 0;
                        at = end;
                    }
                    _ => at = end,
                }
            }
            _ => at += 1,
        }
        if depth > max_depth {
            return true;
        }
    }
    false
}

/// Whether `object` nests deeper than `max_depth`.
pub(super) fn object_exceeds(object: &Object, max_depth: usize) -> bool {
    exceeds_from(vec![(object, 0)], max_depth)
}

/// Whether `dictionary` nests deeper than `max_depth`.
pub(super) fn dictionary_exceeds(dictionary: &Dictionary, max_depth: usize) -> bool {
    if max_depth == 0 {
        return true;
    }
    exceeds_from(
        dictionary.iter().map(|(_, value)| (value, 1)).collect(),
        max_depth,
    )
}

fn exceeds_from(mut pending: Vec<(&Object, usize)>, max_depth: usize) -> bool {
    while let Some((object, outer)) = pending.pop() {
        let dictionary = match object {
            Object::Array(items) => {
                if outer + 1 > max_depth {
                    return true;
                }
                pending.extend(items.iter().map(|item| (item, outer + 1)));
                continue;
            }
            Object::Dictionary(dictionary) => dictionary,
            Object::Stream(stream) => &stream.dict,
            _ => continue,
        };
        if outer + 1 > max_depth {
            return true;
        }
        pending.extend(dictionary.iter().map(|(_, value)| (value, outer + 1)));
    }
    false
}

/// PDF white space and delimiters end a run of regular characters.
fn is_regular(byte: u8) -> bool {
    !matches!(
        byte,
        b'\0'
            | b'\t'
            | b'\n'
            | b'\x0c'
            | b'\r'
            | b' '
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'/'
            | b'%'
    )
}

fn skip_regular(bytes: &[u8], from: usize) -> usize {
    from + bytes[from..]
        .iter()
        .take_while(|&&byte| is_regular(byte))
        .count()
}

fn skip_line(bytes: &[u8], from: usize) -> usize {
    from + bytes[from..]
        .iter()
        .take_while(|&&byte| byte != b'\n' && byte != b'\r')
        .count()
}

/// Past the `)` that closes the string opening at `from`, honouring nesting and escapes.
fn skip_literal_string(bytes: &[u8], from: usize) -> usize {
    let mut open = 0usize;
    let mut at = from;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\\' => at += 1,
            b'(' => open += 1,
            b')' => {
                open -= 1;
                if open == 0 {
                    return at + 1;
                }
            }
            _ => {}
        }
        at += 1;
    }
    bytes.len()
}

fn find_byte(bytes: &[u8], from: usize, wanted: u8) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&byte| byte == wanted)
        .map(|offset| from + offset)
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|offset| from + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_counts_arrays_and_dictionaries() {
        assert!(!scan_exceeds(b"1 0 obj << /A [1] >> endobj", 2));
        assert!(scan_exceeds(b"1 0 obj << /A [[1]] >> endobj", 2));
        assert!(!scan_exceeds(b"<abc> [ ] [ ] [ ]", 1));
    }

    #[test]
    fn scan_skips_strings_comments_names_and_stream_data() {
        let bytes =
            b"1 0 obj (( [[[[ \\) ) % [[[[[\n /[[[[ << /Length 4 >> stream\n[[[[\nendstream endobj";
        assert!(!scan_exceeds(bytes, 1));
    }

    #[test]
    fn scan_restarts_at_each_object() {
        let bytes = b"1 0 obj [[ endobj 2 0 obj [[ endobj";
        assert!(!scan_exceeds(bytes, 2));
    }

    #[test]
    fn scan_handles_a_hundred_thousand_levels() {
        let mut bytes = b"1 0 obj ".to_vec();
        bytes.extend(std::iter::repeat_n(b'[', 100_000));
        assert!(scan_exceeds(&bytes, 64));
    }

    #[test]
    fn object_depth_matches_scan_depth() {
        let leaf = Object::Integer(1);
        let one = Object::Array(vec![leaf]);
        let mut dictionary = Dictionary::new();
        dictionary.set("A", one.clone());
        let two = Object::Dictionary(dictionary.clone());
        assert!(!object_exceeds(&one, 1));
        assert!(!object_exceeds(&two, 2));
        assert!(object_exceeds(&two, 1));
        assert!(!dictionary_exceeds(&dictionary, 2));
        assert!(dictionary_exceeds(&dictionary, 1));
    }

    #[test]
    fn object_walk_is_iterative() {
        let mut object = Object::Null;
        for _ in 0..200_000 {
            object = Object::Array(vec![object]);
        }
        assert!(object_exceeds(&object, 64));
        // Dropping 200,000 nested arrays recurses in Drop; unwind it by hand.
        let mut next = Some(object);
        while let Some(Object::Array(mut items)) = next {
            next = items.pop();
        }
    }
}
