//! RFC 3161 timestamps for PAdES B-T: the request for the SHA-256 of a signature value, and
//! the checked token from the TSA's answer. The HTTP exchange is the caller's (the signing
//! worker is async; this crate does no I/O).

use cms::signed_data::SignedData;
use der::asn1::{Int, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use crate::algorithm::{SignError, SHA256};

/// The media types of the exchange (RFC 3161 section 3.4).
pub const REQUEST_CONTENT_TYPE: &str = "application/timestamp-query";
/// The media type of the answer.
pub const RESPONSE_CONTENT_TYPE: &str = "application/timestamp-reply";

/// A DER `TimeStampReq` for `imprint` (a SHA-256 digest) with `nonce`, asking for the TSA's
/// certificate in the token.
pub fn request(imprint: &[u8; 32], nonce: u64) -> Result<Vec<u8>, SignError> {
    Ok(TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(imprint.to_vec())?,
        },
        req_policy: None,
        nonce: Some(nonce_int(nonce)?),
        cert_req: true,
        extensions: None,
    }
    .to_der()?)
}

/// `nonce` as a DER INTEGER, positive and minimally encoded (X.690 8.3.2). A plain big-endian
/// u64 is neither when its top byte is zero (a needless leading zero, one request in 256) or
/// its top bit is set (negative); OpenSSL's TSA refuses the padded form as "bad request
/// format", which made signing fail now and then.
fn nonce_int(nonce: u64) -> Result<Int, SignError> {
    let bytes = nonce.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut minimal = bytes[first..].to_vec();
    if minimal[0] & 0x80 != 0 {
        minimal.insert(0, 0);
    }
    Ok(Int::new(&minimal)?)
}

/// Why a TSA's answer is unusable.
fn refused(detail: impl Into<String>) -> SignError {
    SignError::Invalid(format!("timestamp: {}", detail.into()))
}

/// The DER timestamp token (a CMS `ContentInfo`) from a TSA's DER answer, after checking that
/// it was granted and that it stamps `imprint` with our `nonce`.
pub fn token(response: &[u8], imprint: &[u8; 32], nonce: u64) -> Result<Vec<u8>, SignError> {
    let response = TimeStampResp::from_der(response)?;
    let status = response.status.status as u8;
    // 0 granted, 1 granted with modifications; anything else is a refusal.
    if status > 1 {
        // The TSA's own words, when it gives any (statusString, failInfo).
        let text: Vec<&str> = response
            .status
            .status_string
            .iter()
            .flatten()
            .map(|s| s.as_str())
            .collect();
        return Err(refused(format!(
            "the TSA refused the request (status {status}{}{})",
            if text.is_empty() {
                String::new()
            } else {
                format!(": {}", text.join("; "))
            },
            response
                .status
                .fail_info
                .map(|f| format!(", failInfo {:?}", f))
                .unwrap_or_default()
        )));
    }
    let token = response
        .time_stamp_token
        .ok_or_else(|| refused("granted without a token"))?;
    let signed_data = SignedData::from_der(&token.content.to_der()?)?;
    let tst_info = signed_data
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| refused("the token has no TSTInfo"))?;
    let tst_info = TstInfo::from_der(OctetString::from_der(&tst_info.to_der()?)?.as_bytes())?;
    if tst_info.message_imprint.hashed_message.as_bytes() != imprint {
        return Err(refused("the token stamps another digest"));
    }
    let expected = nonce_int(nonce)?;
    if tst_info.nonce.as_ref() != Some(&expected) {
        return Err(refused("the token's nonce is not ours"));
    }
    Ok(token.to_der()?)
}

#[cfg(test)]
mod nonce_tests {
    use der::Encode as _;

    #[test]
    fn nonces_are_positive_minimal_der_integers_whatever_their_bytes() {
        for (nonce, der) in [
            (
                0x007f_0000_0000_0001u64,
                "0207".to_owned() + "7f000000000001",
            ),
            (
                0x8000_0000_0000_0001,
                "0209".to_owned() + "008000000000000001",
            ),
            (1, "020101".to_owned()),
            (0x80, "02020080".to_owned()),
            (0, "020100".to_owned()),
        ] {
            let encoded = super::nonce_int(nonce).expect("int").to_der().expect("der");
            assert_eq!(hex::encode(encoded), der, "{nonce:#x}");
        }
    }
}
