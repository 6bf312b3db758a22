//! Text a request may carry. Everything GSign stores may travel later in an SQS message (mail,
//! webhooks, audit), and SQS refuses control characters and Unicode noncharacters, so they are
//! refused at the door with the field that holds them, not found later as a stuck message.

/// Whether `c` may not appear in request text: a control character other than tab, line feed
/// and carriage return (C0, DEL and C1), or a Unicode noncharacter (U+FDD0..U+FDEF and the
/// last two code points of every plane).
pub fn is_refused_char(c: char) -> bool {
    let code = u32::from(c);
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || (0xFDD0..=0xFDEF).contains(&code)
        || code & 0xFFFE == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_noncharacters_are_refused_and_ordinary_text_is_not() {
        for c in [
            '\u{0}',
            '\u{1}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{fdd0}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{1fffe}',
            '\u{10ffff}',
        ] {
            assert!(is_refused_char(c), "{c:?}");
        }
        for c in [
            'a',
            '\t',
            '\n',
            '\r',
            ' ',
            'Ө',
            'ү',
            '€',
            '\u{fffd}',
            '\u{1f600}',
            '\u{e000}',
        ] {
            assert!(!is_refused_char(c), "{c:?}");
        }
    }
}
