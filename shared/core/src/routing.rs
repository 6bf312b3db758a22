//! Who acts next on a sent envelope, and what a recipient's `sign` must contain (seed 001's
//! signing flow). Plain rules: the ceremony routes and the signing worker decide with them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::envelopes::{FieldType, RecipientRole, RecipientStatus, RoutingType};
use crate::FieldError;

/// Where one recipient stands.
#[derive(Debug, Clone)]
pub struct Party {
    /// Id.
    pub id: Uuid,
    /// Role.
    pub role: RecipientRole,
    /// Routing order.
    pub routing_order: i32,
    /// Where they stand.
    pub status: RecipientStatus,
    /// A signer's signature is in the PDF (the signing worker applied it).
    pub applied: bool,
}

impl Party {
    /// Whether this recipient has done all the envelope needs of them: a signer's signature
    /// is in the PDF, an approver approved, a viewer viewed; cc recipients never act.
    pub fn is_done(&self) -> bool {
        match self.role {
            RecipientRole::Signer => self.status == RecipientStatus::Signed && self.applied,
            RecipientRole::Approver => self.status == RecipientStatus::Approved,
            RecipientRole::Viewer => matches!(
                self.status,
                RecipientStatus::Viewed | RecipientStatus::Signed
            ),
            RecipientRole::Cc => true,
        }
    }
}

/// What the envelope needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Someone acting now has not finished.
    Wait,
    /// The current order is done: `order` acts next, these recipients are to be asked.
    Advance {
        /// The new current routing order.
        order: i32,
        /// Who to notify.
        recipients: Vec<Uuid>,
    },
    /// Everyone is done: seal and complete.
    Complete,
}

/// The step after the current state. Sequential routing moves to the lowest order that still
/// has work once every recipient of the current order is done; parallel routing asked
/// everyone at send, so it only waits or completes.
pub fn next(routing: RoutingType, current_order: Option<i32>, parties: &[Party]) -> Next {
    let acting: Vec<&Party> = parties
        .iter()
        .filter(|p| p.role != RecipientRole::Cc)
        .collect();
    if acting.iter().all(|p| p.is_done()) {
        return Next::Complete;
    }
    if routing == RoutingType::Parallel {
        return Next::Wait;
    }
    let current_open = acting
        .iter()
        .any(|p| Some(p.routing_order) == current_order && !p.is_done());
    if current_open {
        return Next::Wait;
    }
    let Some(order) = acting
        .iter()
        .filter(|p| !p.is_done())
        .map(|p| p.routing_order)
        .min()
    else {
        return Next::Complete;
    };
    Next::Advance {
        order,
        recipients: acting
            .iter()
            .filter(|p| p.routing_order == order && !p.is_done())
            .map(|p| p.id)
            .collect(),
    }
}

/// The signature a signer adopts: drawn (a PNG) or typed (their name in the shipped font).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SignatureInput {
    /// A drawing.
    Drawn {
        /// The PNG, base64.
        image_png: String,
    },
    /// A typed name.
    Typed {
        /// The name as typed.
        text: String,
    },
}

/// `POST /v1/signing/{token}/sign` body.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInput {
    /// A value per field id: text for text and date fields, `true`/`false` for check boxes.
    #[serde(default)]
    pub values: BTreeMap<Uuid, serde_json::Value>,
    /// The signature (signers with a signature or initials field).
    #[serde(default)]
    pub signature: Option<SignatureInput>,
}

/// One field of the recipient, as `sign` checks it.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub field_type: FieldType,
    /// Must be filled (a required check box must be checked).
    pub required: bool,
}

/// A checked value for one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Text, or a date as given or defaulted to the signing date.
    Text(String),
    /// A check box.
    Checked(bool),
    /// The adopted signature (signature and initials fields).
    Signature,
}

/// Longest text value.
pub const MAX_VALUE_CHARS: usize = 1000;

/// Checks a recipient's submission against their fields, reporting every problem at once:
/// unknown or foreign field ids, wrong value types, missing required values, an unchecked
/// required check box, a missing signature. Date fields left empty take `today`
/// (`YYYY-MM-DD`), as "date signed" boxes do. Answers every field of the recipient.
pub fn answers(
    slots: &[Slot],
    input: &SignInput,
    today: DateTime<Utc>,
) -> Result<Vec<(Uuid, Answer)>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let by_id: HashMap<Uuid, &Slot> = slots.iter().map(|s| (s.id, s)).collect();
    for id in input.values.keys() {
        if !by_id.contains_key(id) {
            errors.push(FieldError::new(
                format!("/values/{id}"),
                "is not one of your fields",
            ));
        }
    }
    let signature_needed = slots
        .iter()
        .any(|s| matches!(s.field_type, FieldType::Signature | FieldType::Initial));
    if signature_needed && input.signature.is_none() {
        errors.push(FieldError::new("/signature", "draw or type your signature"));
    }
    if let Some(SignatureInput::Typed { text }) = &input.signature {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 255 || text.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "/signature/text",
                "must be 1 to 255 characters",
            ));
        }
    }
    let mut answers = Vec::with_capacity(slots.len());
    for slot in slots {
        let pointer = format!("/values/{}", slot.id);
        let given = input.values.get(&slot.id).filter(|v| !v.is_null());
        let answer = match slot.field_type {
            FieldType::Signature | FieldType::Initial => {
                if given.is_some() {
                    errors.push(FieldError::new(
                        pointer,
                        "signature fields take the adopted signature, not a value",
                    ));
                    continue;
                }
                Answer::Signature
            }
            FieldType::Checkbox => match given {
                None => Answer::Checked(false),
                Some(serde_json::Value::Bool(checked)) => Answer::Checked(*checked),
                Some(_) => {
                    errors.push(FieldError::new(pointer, "must be true or false"));
                    continue;
                }
            },
            FieldType::Text | FieldType::Date => match given {
                None => Answer::Text(String::new()),
                Some(serde_json::Value::String(text)) => {
                    let text = text.trim();
                    if text.chars().count() > MAX_VALUE_CHARS
                        || text.chars().any(|c| c.is_control() && c != '\n')
                    {
                        errors.push(FieldError::new(
                            pointer,
                            format!("must be at most {MAX_VALUE_CHARS} characters of text"),
                        ));
                        continue;
                    }
                    Answer::Text(text.to_owned())
                }
                Some(_) => {
                    errors.push(FieldError::new(pointer, "must be a string"));
                    continue;
                }
            },
        };
        let answer = match answer {
            Answer::Text(text) if text.is_empty() && slot.field_type == FieldType::Date => {
                Answer::Text(today.format("%Y-%m-%d").to_string())
            }
            other => other,
        };
        let missing = match &answer {
            Answer::Text(text) => text.is_empty(),
            Answer::Checked(checked) => !checked,
            Answer::Signature => false,
        };
        if slot.required && missing {
            errors.push(FieldError::new(
                format!("/values/{}", slot.id),
                if slot.field_type == FieldType::Checkbox {
                    "must be checked"
                } else {
                    "is required"
                },
            ));
            continue;
        }
        answers.push((slot.id, answer));
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(order: i32, role: RecipientRole, status: &str, applied: bool) -> Party {
        Party {
            id: Uuid::new_v4(),
            role,
            routing_order: order,
            status: RecipientStatus::parse(status).expect("a recipient status"),
            applied,
        }
    }

    #[test]
    fn sequential_routing_waits_for_the_whole_order_then_asks_the_next() {
        let first_a = party(1, RecipientRole::Signer, "signed", true);
        let first_b = party(1, RecipientRole::Approver, "viewed", false);
        let second = party(2, RecipientRole::Signer, "pending", false);
        let cc = party(3, RecipientRole::Cc, "pending", false);
        let all = [first_a.clone(), first_b.clone(), second.clone(), cc.clone()];
        assert_eq!(next(RoutingType::Sequential, Some(1), &all), Next::Wait);

        let approved = Party {
            status: RecipientStatus::Approved,
            ..first_b
        };
        let all = [
            first_a.clone(),
            approved.clone(),
            second.clone(),
            cc.clone(),
        ];
        assert_eq!(
            next(RoutingType::Sequential, Some(1), &all),
            Next::Advance {
                order: 2,
                recipients: vec![second.id]
            }
        );
    }

    #[test]
    fn a_signature_counts_once_it_is_in_the_pdf_and_cc_never_holds_completion() {
        let signed_not_applied = party(1, RecipientRole::Signer, "signed", false);
        let cc = party(2, RecipientRole::Cc, "pending", false);
        assert_eq!(
            next(
                RoutingType::Sequential,
                Some(1),
                &[signed_not_applied.clone(), cc.clone()]
            ),
            Next::Wait
        );
        let applied = Party {
            applied: true,
            ..signed_not_applied
        };
        assert_eq!(
            next(RoutingType::Sequential, Some(1), &[applied, cc]),
            Next::Complete
        );
    }

    #[test]
    fn parallel_routing_completes_when_everyone_is_done_and_viewers_are_done_by_viewing() {
        let signer = party(1, RecipientRole::Signer, "signed", true);
        let viewer = party(1, RecipientRole::Viewer, "sent", false);
        assert_eq!(
            next(
                RoutingType::Parallel,
                None,
                &[signer.clone(), viewer.clone()]
            ),
            Next::Wait
        );
        let viewed = Party {
            status: RecipientStatus::Viewed,
            ..viewer
        };
        assert_eq!(
            next(RoutingType::Parallel, None, &[signer, viewed]),
            Next::Complete
        );
    }

    fn slot(field_type: FieldType, required: bool) -> Slot {
        Slot {
            id: Uuid::new_v4(),
            field_type,
            required,
        }
    }

    #[test]
    fn a_submission_lists_every_problem_at_once() {
        let text = slot(FieldType::Text, true);
        let check = slot(FieldType::Checkbox, true);
        let sign = slot(FieldType::Signature, true);
        let stranger = Uuid::new_v4();
        let input: SignInput = serde_json::from_value(serde_json::json!({
            "values": {
                check.id.to_string(): "yes",
                stranger.to_string(): "x",
            }
        }))
        .expect("input");
        let errors =
            answers(&[text.clone(), check.clone(), sign], &input, Utc::now()).expect_err("refused");
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert!(pointers.contains(&format!("/values/{stranger}").as_str()));
        assert!(pointers.contains(&"/signature"));
        assert!(pointers.contains(&format!("/values/{}", text.id).as_str()));
        assert!(pointers.contains(&format!("/values/{}", check.id).as_str()));
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn dates_default_to_the_signing_day_and_optional_boxes_may_stay_unchecked() {
        let date = slot(FieldType::Date, true);
        let optional = slot(FieldType::Checkbox, false);
        let sign = slot(FieldType::Initial, true);
        let input = SignInput {
            values: BTreeMap::new(),
            signature: Some(SignatureInput::Typed {
                text: "Ana Lima".into(),
            }),
        };
        let today = "2026-11-28T10:00:00Z".parse().expect("time");
        let answered = answers(
            &[date.clone(), optional.clone(), sign.clone()],
            &input,
            today,
        )
        .expect("accepted");
        assert_eq!(
            answered,
            vec![
                (date.id, Answer::Text("2026-11-28".into())),
                (optional.id, Answer::Checked(false)),
                (sign.id, Answer::Signature),
            ]
        );
    }
}
