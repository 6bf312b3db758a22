//! GSign's signing engine, as pure functions over a [`RawSigner`]: the HSM (through
//! `gsign_platform::hsm_keys`) is one implementation, a test key another.
//!
//! - [`x509`]: an organization's own CA (self-signed, its key in the HSM) and the signing
//!   certificates it issues;
//! - [`form`]: every field of an envelope created before the first signature, then filled by
//!   its signer ([`appearance`], [`font`]);
//! - [`cms`], [`pades`], [`tsa`]: PAdES B-B/B-T signatures as incremental updates;
//! - [`crl`], [`ltv`]: revocation lists of an organization's CA, and the document security
//!   store and document timestamp of B-LT and B-LTA.

mod acroform;
pub mod algorithm;
pub mod appearance;
pub mod chain;
pub mod cms;
pub mod cms_verify;
pub mod completion;
pub mod crl;
pub mod font;
pub mod form;
pub mod ltv;
pub mod pades;
pub mod stream;
pub mod tsa;
pub mod verify;
pub mod x509;

pub use algorithm::{RawSigner, Scheme, SignError};
