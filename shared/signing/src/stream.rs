//! PDF stream contents shared by the appearances, the embedded fonts and the certificate of
//! completion.

use std::io::Write as _;

use flate2::write::ZlibEncoder;
use flate2::Compression;

/// Zlib (`/FlateDecode`) of `bytes`.
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(bytes.len() / 2), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
