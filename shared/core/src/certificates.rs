//! Certificate rules (seed 000's `certificates`, seed 001's HSM backend): what a request to
//! create one may ask for, how its subject name is written, how long it lives, and who may
//! manage it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{FieldError, Role};

/// The longest validity the organization's CA grants a signing certificate (CA/Browser
/// Forum's old ceiling; document signing certificates are usually 1 to 3 years).
pub const MAX_VALIDITY_DAYS: u32 = 1095;
/// The default validity.
pub const DEFAULT_VALIDITY_DAYS: u32 = 365;
/// The organization CA's validity: it must outlive every certificate it issues.
pub const CA_VALIDITY_DAYS: u32 = 3650;

/// The key pair to generate in the HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum KeyType {
    /// RSA 2048, signing with RSA-PSS.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA 3072, signing with RSA-PSS.
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// ECDSA on P-256.
    #[serde(rename = "ec-p256")]
    EcP256,
}

string_enum!(
    /// What a certificate is for (seed 000's `purpose`).
    CertificatePurpose {
        /// A person's signing certificate.
        Signing = "signing",
        /// The organization's CA, which issues its people's certificates and CRLs.
        Ca = "ca",
        /// The organization's seal, which seals completed envelopes.
        Seal = "seal",
    }
);

string_enum!(
    /// Who vouches for a certificate (seed 000's `type`).
    CertificateType {
        /// Signed by its own key.
        SelfSigned = "self_signed",
        /// Issued by an external CA (a CSR's answer).
        CaIssued = "ca_issued",
        /// Issued by an external CA as a qualified (eIDAS) certificate.
        Eidas = "eidas",
        /// Issued by the organization's own CA.
        Corporate = "corporate",
    }
);

string_enum!(
    /// A stored key's family (seed 000's `key_type`; its size is stored beside it).
    KeyFamily {
        /// RSA.
        Rsa = "RSA",
        /// Elliptic curve.
        Ec = "EC",
    }
);

/// How the certificate comes to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Issuance {
    /// Issued now by the organization's own CA (created on first use): type `corporate`.
    OrganizationCa,
    /// A certificate request for an external CA; the certificate is imported later: type
    /// `ca_issued` (or `eidas` when the import says so), status `pending` until then.
    Csr,
    /// Self-signed: type `self_signed` (validators trust it only when told to).
    SelfSigned,
}

impl Issuance {
    /// The stored `type` right after creation.
    pub fn initial_type(self) -> CertificateType {
        match self {
            Issuance::OrganizationCa => CertificateType::Corporate,
            Issuance::Csr => CertificateType::CaIssued,
            Issuance::SelfSigned => CertificateType::SelfSigned,
        }
    }
}

/// The subject's name parts.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    /// CN: the signer's name, in any script.
    pub common_name: String,
    /// O.
    #[serde(default)]
    pub organization: Option<String>,
    /// OU.
    #[serde(default)]
    pub organizational_unit: Option<String>,
    /// C: ISO 3166 two-letter code.
    #[serde(default)]
    pub country: Option<String>,
}

/// `POST /v1/certificates` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// A name for people.
    pub label: String,
    /// The key pair (default `ec-p256`).
    #[serde(default)]
    pub key_type: Option<KeyType>,
    /// How it is issued (default `organization_ca`).
    #[serde(default)]
    pub issuance: Option<Issuance>,
    /// The subject.
    pub subject: SubjectInput,
    /// Days of validity (1 to [`MAX_VALIDITY_DAYS`], default 365); not for a CSR.
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// Make it the caller's default signing certificate once active.
    #[serde(default)]
    pub default: bool,
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// Trimmed label.
    pub label: String,
    /// Key pair.
    pub key_type: KeyType,
    /// Issuance.
    pub issuance: Issuance,
    /// RFC 4514 distinguished name.
    pub subject_dn: String,
    /// The common name as given (trimmed).
    pub common_name: String,
    /// Validity in days.
    pub validity_days: u32,
    /// Whether it becomes the default.
    pub default: bool,
}

fn text_part(
    value: Option<&str>,
    pointer: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    if value.chars().count() > max {
        errors.push(FieldError::new(
            pointer,
            format!("must be at most {max} characters"),
        ));
        return None;
    }
    if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            pointer,
            "must not contain control characters",
        ));
        return None;
    }
    Some(value.to_owned())
}

/// An attribute value escaped for RFC 4514 text.
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (at, ch) in value.chars().enumerate() {
        let special = matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (at == 0 && matches!(ch, '#' | ' '))
            || (at == last && ch == ' ');
        if special {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

impl NewCertificate {
    /// Checks `input`, reporting every problem at once.
    pub fn parse(input: CertificateRequest) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let label = text_part(Some(&input.label), "/label", 255, &mut errors);
        if label.is_none() && errors.is_empty() {
            errors.push(FieldError::new("/label", "must not be empty"));
        }
        let subject = &input.subject;
        let cn = text_part(
            Some(&subject.common_name),
            "/subject/common_name",
            64,
            &mut errors,
        );
        if cn.is_none() && !errors.iter().any(|e| e.pointer == "/subject/common_name") {
            errors.push(FieldError::new("/subject/common_name", "must not be empty"));
        }
        let o = text_part(
            subject.organization.as_deref(),
            "/subject/organization",
            64,
            &mut errors,
        );
        let ou = text_part(
            subject.organizational_unit.as_deref(),
            "/subject/organizational_unit",
            64,
            &mut errors,
        );
        let country = subject
            .country
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if let Some(c) = country {
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
                errors.push(FieldError::new(
                    "/subject/country",
                    "must be a two-letter ISO 3166 code, upper case",
                ));
            }
        }
        let issuance = input.issuance.unwrap_or(Issuance::OrganizationCa);
        let validity_days = match (issuance, input.validity_days) {
            (Issuance::Csr, Some(_)) => {
                errors.push(FieldError::new(
                    "/validity_days",
                    "is set by the external CA for a CSR",
                ));
                0
            }
            (_, Some(days)) if !(1..=MAX_VALIDITY_DAYS).contains(&days) => {
                errors.push(FieldError::new(
                    "/validity_days",
                    format!("must be 1 to {MAX_VALIDITY_DAYS}"),
                ));
                0
            }
            (_, days) => days.unwrap_or(DEFAULT_VALIDITY_DAYS),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let common_name = cn.unwrap_or_default();
        let mut dn = vec![format!("CN={}", escape_dn_value(&common_name))];
        if let Some(ou) = ou {
            dn.push(format!("OU={}", escape_dn_value(&ou)));
        }
        if let Some(o) = o {
            dn.push(format!("O={}", escape_dn_value(&o)));
        }
        if let Some(c) = country {
            dn.push(format!("C={c}"));
        }
        Ok(Self {
            label: label.unwrap_or_default(),
            key_type: input.key_type.unwrap_or(KeyType::EcP256),
            issuance,
            subject_dn: dn.join(","),
            common_name,
            validity_days,
            default: input.default,
        })
    }
}

/// A certificate's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateStatus {
    /// Waiting for an external CA's certificate.
    Pending,
    /// Usable.
    Active,
    /// Revoked: never used again; its key is destroyed.
    Revoked,
}

impl CertificateStatus {
    /// Parses the stored value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

impl fmt::Display for CertificateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Revoked => "revoked",
        })
    }
}

/// Why a lifecycle change is refused; each is a 409 with its own problem type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleConflict {
    /// The certificate is revoked.
    Revoked,
    /// The chain was imported already (or it never was a CSR).
    NotPending,
    /// A pending certificate cannot be the default.
    NotActive,
    /// The organization's CA and seal are revoked by operators, not through this route.
    Authority,
    /// It has expired.
    Expired,
}

impl LifecycleConflict {
    /// Problem type slug.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Revoked => "certificate-revoked",
            Self::NotPending => "certificate-not-pending",
            Self::NotActive => "certificate-not-active",
            Self::Authority => "certificate-is-authority",
            Self::Expired => "certificate-expired",
        }
    }

    /// For people.
    pub fn detail(self) -> &'static str {
        match self {
            Self::Revoked => "The certificate is revoked.",
            Self::NotPending => "The certificate is not waiting for a chain.",
            Self::NotActive => "Only an active certificate can be the default.",
            Self::Authority => {
                "The organization's CA and seal certificates cannot be changed here."
            }
            Self::Expired => "The certificate has expired.",
        }
    }
}

/// Whether `role` (acting as `actor`) may revoke a certificate owned by `owner`: one's own,
/// or anyone's for owners and admins (a member who leaves must not keep a usable identity).
pub fn may_revoke(role: Role, actor: Option<uuid::Uuid>, owner: Option<uuid::Uuid>) -> bool {
    matches!(role, Role::Owner | Role::Admin) || (actor.is_some() && actor == owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<NewCertificate, Vec<FieldError>> {
        NewCertificate::parse(serde_json::from_value(json).expect("shape"))
    }

    #[test]
    fn a_minimal_request_gets_an_ec_key_from_the_organization_ca_for_a_year() {
        let new = request(serde_json::json!({
            "label": " Mine ", "subject": {"common_name": "Батбаяр Өлзий", "country": "MN"}
        }))
        .expect("valid");
        assert_eq!(new.label, "Mine");
        assert_eq!(new.key_type, KeyType::EcP256);
        assert_eq!(new.issuance, Issuance::OrganizationCa);
        assert_eq!(new.validity_days, 365);
        assert_eq!(new.subject_dn, "CN=Батбаяр Өлзий,C=MN");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = request(serde_json::json!({
            "label": "", "issuance": "csr", "validity_days": 10,
            "subject": {"common_name": " ", "country": "mongolia"}
        }))
        .expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/label",
                "/subject/common_name",
                "/subject/country",
                "/validity_days"
            ]
        );
    }

    #[test]
    fn name_values_are_escaped_for_rfc_4514() {
        assert_eq!(escape_dn_value("Smith, John"), "Smith\\, John");
        assert_eq!(escape_dn_value("#1 "), "\\#1\\ ");
        assert_eq!(escape_dn_value("a=b+c"), "a\\=b\\+c");
    }

    #[test]
    fn only_owners_admins_and_the_owner_of_a_certificate_revoke_it() {
        let (me, other) = (Some(uuid::Uuid::new_v4()), Some(uuid::Uuid::new_v4()));
        assert!(may_revoke(Role::Member, me, me));
        assert!(!may_revoke(Role::Member, me, other));
        assert!(may_revoke(Role::Admin, me, other));
        assert!(!may_revoke(Role::Viewer, me, other));
    }
}
