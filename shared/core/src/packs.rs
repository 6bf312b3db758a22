//! Document packs (seed 003) without I/O: clause and template gates, the signer map, the
//! pack's lifecycle, and how an envelope's evidence moves a pack's document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::accounts::EmailAddress;
use crate::FieldError;

/// Most templates in one pack.
pub const MAX_PACK_TEMPLATES: usize = 20;
/// Most clauses in one template.
pub const MAX_TEMPLATE_CLAUSES: usize = 200;
/// Most signer roles in one template.
pub const MAX_SIGNER_ROLES: usize = 10;
/// Largest clause body, in bytes.
pub const MAX_CLAUSE_BYTES: usize = 256 * 1024;

string_enum!(
    /// A pack's state.
    PackStatus {
        /// Generated, not sent; can be issued, voided or regenerated.
        Draft = "draft",
        /// Every document is out for signature.
        Issued = "issued",
        /// Every document's envelope completed.
        Signed = "signed",
        /// Withdrawn (its envelopes voided).
        Voided = "voided",
        /// Replaced by a regenerated pack.
        Superseded = "superseded",
    }
);

string_enum!(
    /// A pack document's envelope, as the pack records it.
    #[schemars(rename = "DocPackEnvelopeStatus")]
    PackEnvelopeStatus {
        /// Not issued yet.
        None = "none",
        /// Out for signature.
        Sent = "sent",
        /// Every signer signed.
        Completed = "completed",
        /// A signer declined.
        Declined = "declined",
        /// Voided.
        Voided = "voided",
        /// Expired.
        Expired = "expired",
    }
);

impl PackStatus {
    /// Voiding and regenerating are for packs nobody has finished signing.
    pub fn is_open(self) -> bool {
        matches!(self, PackStatus::Draft | PackStatus::Issued)
    }
}

/// What happened to a pack's document, as seed 003's `doc_sign_event.event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignEvent {
    /// A signer was asked to sign.
    EnvelopeSent,
    /// A signer opened the document.
    Viewed,
    /// A signer signed (or approved).
    Signed,
    /// A signer declined.
    Declined,
    /// The sender voided the envelope.
    Voided,
    /// The envelope expired.
    Expired,
}

impl SignEvent {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignEvent::EnvelopeSent => "envelope_sent",
            SignEvent::Viewed => "viewed",
            SignEvent::Signed => "signed",
            SignEvent::Declined => "declined",
            SignEvent::Voided => "voided",
            SignEvent::Expired => "expired",
        }
    }
}

/// How one envelope evidence action shows on the pack's document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// The sign event to add (for the recipient's role, or the sender's).
    pub event: Option<SignEvent>,
    /// The document's new `envelope_status`.
    pub envelope_status: Option<PackEnvelopeStatus>,
}

/// The effect of the envelope evidence `action` on the pack document it was issued for;
/// `None` for actions that do not show there (fields, reminders, access codes, …).
pub fn tracked(action: &str) -> Option<Tracked> {
    let (event, envelope_status) = match action {
        "envelope.sent" => (None, Some(PackEnvelopeStatus::Sent)),
        "recipient.notified" => (Some(SignEvent::EnvelopeSent), None),
        "recipient.viewed" => (Some(SignEvent::Viewed), None),
        "recipient.signed" | "recipient.approved" => (Some(SignEvent::Signed), None),
        "recipient.declined" => (Some(SignEvent::Declined), None),
        "envelope.declined" => (None, Some(PackEnvelopeStatus::Declined)),
        "envelope.voided" => (Some(SignEvent::Voided), Some(PackEnvelopeStatus::Voided)),
        "envelope.expired" => (Some(SignEvent::Expired), Some(PackEnvelopeStatus::Expired)),
        "envelope.completed" => (None, Some(PackEnvelopeStatus::Completed)),
        _ => return None,
    };
    Some(Tracked {
        event,
        envelope_status,
    })
}

/// Where a clause or template may be used: `None` is everywhere / for everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gate {
    /// City codes allowed.
    pub cities: Option<Vec<String>>,
    /// Signer roles it is for: the pack must have a signer in one of them.
    pub roles: Option<Vec<String>>,
}

impl Gate {
    /// Why `what` cannot be used in a pack for `city` whose signers have `roles`, if it
    /// cannot.
    pub fn refusal(&self, what: &str, city: &str, roles: &[&str]) -> Option<String> {
        let mut reasons = Vec::new();
        if let Some(cities) = &self.cities {
            if !cities.iter().any(|c| c.eq_ignore_ascii_case(city)) {
                reasons.push(format!(
                    "is only for the cities {} and this pack is for {city}",
                    cities.join(", ")
                ));
            }
        }
        if let Some(gate) = &self.roles {
            if !gate.iter().any(|g| roles.contains(&g.as_str())) {
                reasons.push(format!(
                    "is only for packs with a signer in the role {} and this pack's signers are {}",
                    gate.join(" or "),
                    roles.join(", ")
                ));
            }
        }
        (!reasons.is_empty()).then(|| format!("{what} {}", reasons.join("; it ")))
    }

    /// Problems of the gate's values, under `at`.
    pub fn problems(&self, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (name, list, check) in [
            (
                "city_gate",
                &self.cities,
                city_problem as fn(&str) -> Option<String>,
            ),
            ("role_gate", &self.roles, role_problem),
        ] {
            if let Some(list) = list {
                if list.is_empty() || list.len() > 100 {
                    errors.push(FieldError::new(
                        format!("{at}/{name}"),
                        "must list 1 to 100 values, or be null for no restriction",
                    ));
                }
                for (i, value) in list.iter().enumerate() {
                    if let Some(problem) = check(value) {
                        errors.push(FieldError::new(format!("{at}/{name}/{i}"), problem));
                    }
                }
            }
        }
        errors
    }
}

/// Why `city` is not a city code (letters, digits and `-`, 2 to 32).
pub fn city_problem(city: &str) -> Option<String> {
    let ok = (2..=32).contains(&city.len())
        && city.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (!ok).then(|| "must be a city code: 2 to 32 letters, digits or -".to_owned())
}

/// Why `role` is not a signer role name (lowercase letters, digits, `_`, `-`, 1 to 32,
/// starting with a letter).
pub fn role_problem(role: &str) -> Option<String> {
    let ok = (1..=32).contains(&role.len())
        && role.starts_with(|c: char| c.is_ascii_lowercase())
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    (!ok).then(|| {
        "must be a role name: 1 to 32 lowercase letters, digits, _ or -, starting with a letter"
            .to_owned()
    })
}

/// Who signs as one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signer {
    /// Their name, as on the signature.
    pub name: String,
    /// Where the signing link goes.
    pub email: String,
}

/// Checks the signer map (role -> signer) under `at`, reporting every problem; returns it
/// with trimmed names and normalized emails.
pub fn signer_map_problems(
    map: &BTreeMap<String, Signer>,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, Signer> {
    if map.is_empty() || map.len() > MAX_SIGNER_ROLES * MAX_PACK_TEMPLATES {
        errors.push(FieldError::new(at, "must name at least one signer"));
    }
    let mut clean = BTreeMap::new();
    for (role, signer) in map {
        if let Some(problem) = role_problem(role) {
            errors.push(FieldError::new(format!("{at}/{role}"), problem));
        }
        let name = signer.name.trim();
        if name.is_empty() || name.chars().count() > 255 {
            errors.push(FieldError::new(
                format!("{at}/{role}/name"),
                "must be 1 to 255 characters",
            ));
        }
        match EmailAddress::parse(&signer.email) {
            Ok(email) => {
                clean.insert(
                    role.clone(),
                    Signer {
                        name: name.to_owned(),
                        email: email.as_str().to_lowercase(),
                    },
                );
            }
            Err(problem) => errors.push(FieldError::new(format!("{at}/{role}/email"), problem)),
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_a_pack_tracks_is_announced_and_no_other_shows() {
        for action in crate::envelopes::ANNOUNCED_ACTIONS {
            assert!(
                tracked(action).is_some(),
                "{action} is announced but not tracked"
            );
        }
        for action in [
            "fields.set",
            "recipient.reminded",
            "signature.applied",
            "envelope.sealed",
        ] {
            assert!(!crate::envelopes::is_announced(action), "{action}");
            assert!(tracked(action).is_none(), "{action}");
        }
    }

    #[test]
    fn gates_refuse_other_cities_and_roles_with_the_reason() {
        let gate = Gate {
            cities: Some(vec!["UB".into(), "darkhan".into()]),
            roles: Some(vec!["model".into()]),
        };
        assert_eq!(gate.refusal("clause A", "ub", &["model", "studio"]), None);
        let both = gate
            .refusal("clause A", "ERD", &["buyer"])
            .expect("refused");
        assert!(both.contains("ERD") && both.contains("model"), "{both}");
        let city = gate
            .refusal("clause A", "ERD", &["model"])
            .expect("refused");
        assert!(
            city.contains("UB, darkhan") && city.contains("ERD"),
            "{city}"
        );
        let role = gate
            .refusal("clause A", "UB", &["buyer", "seller"])
            .expect("refused");
        assert!(
            role.contains("model") && role.contains("buyer, seller"),
            "{role}"
        );
        assert_eq!(Gate::default().refusal("x", "anywhere", &[]), None);
        assert_eq!(
            Gate {
                cities: Some(vec![]),
                roles: Some(vec!["Bad Role".into()])
            }
            .problems("")
            .len(),
            2
        );
    }

    #[test]
    fn envelope_evidence_maps_to_sign_events_and_statuses() {
        assert_eq!(
            tracked("recipient.signed").expect("present").event,
            Some(SignEvent::Signed)
        );
        assert_eq!(
            tracked("recipient.approved").expect("present").event,
            Some(SignEvent::Signed)
        );
        assert_eq!(
            tracked("envelope.completed")
                .expect("present")
                .envelope_status,
            Some(PackEnvelopeStatus::Completed)
        );
        let voided = tracked("envelope.voided").expect("present");
        assert_eq!(
            (voided.event, voided.envelope_status),
            (Some(SignEvent::Voided), Some(PackEnvelopeStatus::Voided))
        );
        assert_eq!(tracked("recipient.reminded"), None);
        assert_eq!(tracked("signature.applied"), None);
    }

    #[test]
    fn the_signer_map_lists_every_problem() {
        let mut errors = Vec::new();
        let map = BTreeMap::from([
            (
                "buyer".to_owned(),
                Signer {
                    name: " Батаа ".into(),
                    email: "Bataa@Example.MN".into(),
                },
            ),
            (
                "Seller".to_owned(),
                Signer {
                    name: "".into(),
                    email: "nope".into(),
                },
            ),
        ]);
        let clean = signer_map_problems(&map, "/signer_map", &mut errors);
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/signer_map/Seller",
                "/signer_map/Seller/name",
                "/signer_map/Seller/email"
            ]
        );
        assert_eq!(clean["buyer"].name, "Батаа");
        assert_eq!(clean["buyer"].email, "bataa@example.mn");
    }
}
