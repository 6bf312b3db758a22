//! GSign's signing engine, as pure functions over a [`RawSigner`]: the HSM (through
//! `gsign_platform::hsm_keys`) is one implementation, a test key another.
//!
//! This first part issues X.509 certificates: an organization's own CA (self-signed, its key
//! in the HSM) and the signing certificates it issues. The CMS/PAdES signatures and their
//! verification build on it.

pub mod algorithm;
pub mod cms;
pub mod pades;
pub mod tsa;
pub mod x509;

pub use algorithm::{RawSigner, Scheme, SignError};
