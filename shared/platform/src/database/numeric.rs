//! Postgres' `numeric` in its binary wire form, to and from decimal text: how both database
//! adapters (and the local Data API endpoint) pass decimals without a lossy float.

use tokio_postgres::types::IsNull;

/// A value that could not be decoded or encoded.
pub type DecodeError = Box<dyn std::error::Error + Sync + Send>;

/// `numeric`'s binary form (base-10000 digits) as its decimal text.
pub fn decode(raw: &[u8]) -> Result<String, DecodeError> {
    let word = |i: usize| -> Result<i16, DecodeError> {
        let bytes: [u8; 2] = raw
            .get(i * 2..i * 2 + 2)
            .and_then(|b| b.try_into().ok())
            .ok_or("truncated numeric")?;
        Ok(i16::from_be_bytes(bytes))
    };
    let ndigits = usize::try_from(word(0)?)?;
    let weight = i32::from(word(1)?);
    let sign = word(2)? as u16;
    let dscale = usize::try_from(word(3)?)?;
    if sign == 0xC000 {
        return Ok("NaN".to_owned());
    }
    let digits = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut int_part = String::new();
    for position in 0..=weight.max(0) {
        let digit = if weight < 0 {
            0
        } else {
            usize::try_from(position)
                .ok()
                .and_then(|p| digits.get(p))
                .copied()
                .unwrap_or(0)
        };
        if int_part.is_empty() {
            int_part.push_str(&digit.to_string());
        } else {
            int_part.push_str(&format!("{digit:04}"));
        }
    }
    let mut fraction = String::new();
    let mut position = weight + 1;
    while fraction.len() < dscale {
        let digit = usize::try_from(position)
            .ok()
            .and_then(|p| digits.get(p))
            .copied()
            .unwrap_or(0);
        fraction.push_str(&format!("{digit:04}"));
        position += 1;
    }
    fraction.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if dscale > 0 {
        format!("{sign}{int_part}.{fraction}")
    } else {
        format!("{sign}{int_part}")
    })
}

/// Decimal text in `numeric`'s binary form.
pub fn encode(text: &str, out: &mut bytes::BytesMut) -> Result<IsNull, DecodeError> {
    use bytes::BufMut as _;
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int_part.is_empty() && fraction.is_empty()
        || !int_part
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(format!("{text:?} is not a decimal number").into());
    }
    let int_part = int_part.trim_start_matches('0');
    // Align both parts on 4-digit groups around the decimal point.
    let pad_left = (4 - int_part.len() % 4) % 4;
    let pad_right = (4 - fraction.len() % 4) % 4;
    let aligned = format!(
        "{}{}{}{}",
        "0".repeat(pad_left),
        int_part,
        fraction,
        "0".repeat(pad_right)
    );
    let groups: Vec<i16> = aligned
        .as_bytes()
        .chunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0'))
        })
        .collect();
    let int_groups = (pad_left + int_part.len()) / 4;
    let mut weight = i16::try_from(int_groups)? - 1;
    let mut digits: &[i16] = &groups;
    while let Some((first, rest)) = digits.split_first() {
        if *first != 0 {
            break;
        }
        digits = rest;
        weight -= 1;
    }
    while let Some((last, rest)) = digits.split_last() {
        if *last != 0 {
            break;
        }
        digits = rest;
    }
    if digits.is_empty() {
        weight = 0;
    }
    out.put_i16(i16::try_from(digits.len())?);
    out.put_i16(weight);
    out.put_u16(if negative && !digits.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_i16(i16::try_from(fraction.len())?);
    for digit in digits {
        out.put_i16(*digit);
    }
    Ok(IsNull::No)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut out = bytes::BytesMut::new();
        encode(text, &mut out).expect("encodes");
        decode(&out).expect("decodes")
    }

    #[test]
    fn decimals_survive_the_wire_form() {
        assert_eq!(round_trip("12.50"), "12.50");
        assert_eq!(round_trip("-0.0001"), "-0.0001");
        assert_eq!(round_trip("123456789.5"), "123456789.5");
        assert_eq!(round_trip("0"), "0");
    }

    #[test]
    fn text_that_is_not_a_number_is_refused() {
        assert!(encode("12,5", &mut bytes::BytesMut::new()).is_err());
        assert!(encode("", &mut bytes::BytesMut::new()).is_err());
    }
}
