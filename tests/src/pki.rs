//! The test PKI's building blocks: the local SoftHSM token and certificate subjects.

use std::time::{Duration, SystemTime};

use gsign_platform::hsm::{Hsm, HsmConfig};
use gsign_signing::x509::{Profile, Subject};

/// The local stack's SoftHSM token, opened (a pool of `HSM_POOL_SIZE` sessions).
pub fn open_hsm() -> Hsm {
    let mut r = crate::stack_env().reader();
    let config = HsmConfig::read(&mut r);
    let config = r.finish(|| config).expect("HSM settings");
    Hsm::open(&config).expect("the SoftHSM token opens")
}

/// A subject valid from an hour ago for a year, with a random 16-byte serial.
pub fn subject(name: &str, spki_der: Vec<u8>, profile: Profile) -> Subject {
    let now = SystemTime::now();
    Subject {
        name: name.to_owned(),
        spki_der,
        serial: uuid::Uuid::new_v4().as_bytes().to_vec(),
        not_before: now - Duration::from_secs(3600),
        not_after: now + Duration::from_secs(365 * 86_400),
        profile,
    }
}
