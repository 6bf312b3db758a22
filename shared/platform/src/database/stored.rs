//! Core's enums in text columns, by name: a name the code does not know is an error naming
//! it, never a default. Read through the port ([`super::Row::stored`]) or, for code not yet on
//! it, through `tokio-postgres` ([`crate::db::stored`]).

/// One of core's enums, stored in a text column by its name.
pub trait StoredName: Sized {
    /// What it is, for the error about a name the code does not know ("envelope status").
    const WHAT: &'static str;
    /// The value of a stored name.
    fn from_stored(name: &str) -> Option<Self>;
}

/// A text column read as a [`StoredName`]. A name the code does not know fails the read (the
/// caller gets an error naming the value), never a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored<T>(pub T);

impl<'a, T: StoredName> tokio_postgres::types::FromSql<'a> for Stored<T> {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let name = <&str as tokio_postgres::types::FromSql>::from_sql(ty, raw)?;
        T::from_stored(name)
            .map(Stored)
            .ok_or_else(|| format!("{name:?} is not a known {}", T::WHAT).into())
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

macro_rules! stored_names {
    ($($ty:ty => $what:literal),+ $(,)?) => {
        $(impl StoredName for $ty {
            const WHAT: &'static str = $what;
            fn from_stored(name: &str) -> Option<Self> {
                <$ty>::parse(name)
            }
        })+
    };
}

stored_names! {
    gsign_core::envelopes::EnvelopeStatus => "envelope status",
    gsign_core::envelopes::RoutingType => "routing type",
    gsign_core::envelopes::RecipientRole => "recipient role",
    gsign_core::envelopes::RecipientStatus => "recipient status",
    gsign_core::envelopes::AuthMethod => "authentication method",
    gsign_core::envelopes::FieldType => "field type",
    gsign_core::certificates::CertificateStatus => "certificate status",
    gsign_core::certificates::CertificatePurpose => "certificate purpose",
    gsign_core::certificates::CertificateType => "certificate type",
    gsign_core::certificates::KeyFamily => "key family",
    gsign_signing::algorithm::Scheme => "signature scheme",
    gsign_core::sealed::KeyStatus => "key status",
    gsign_core::packs::PackStatus => "pack status",
    gsign_core::packs::PackEnvelopeStatus => "pack envelope status",
}

impl StoredName for gsign_core::Role {
    const WHAT: &'static str = "role";
    fn from_stored(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}

impl StoredName for gsign_core::documents::DocumentStatus {
    const WHAT: &'static str = "document status";
    fn from_stored(name: &str) -> Option<Self> {
        name.parse().ok()
    }
}
