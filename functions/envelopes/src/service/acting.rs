//! Who must act on an envelope: those asked when it is sent, and those whose turn it is now
//! (the reminders, corrections and handed-out links all ask this one rule).

use gsign_core::envelopes::{RecipientRole, RecipientStatus, RoutingType};

use crate::store::{Envelope, Recipient};

/// Who is asked to act when the envelope is sent.
pub fn first_to_act(routing: RoutingType, recipients: &[Recipient]) -> Vec<&Recipient> {
    let acting = recipients.iter().filter(|r| r.role != RecipientRole::Cc);
    match routing {
        RoutingType::Parallel => acting.collect(),
        RoutingType::Sequential => {
            let first = acting.clone().map(|r| r.routing_order).min();
            acting.filter(|r| Some(r.routing_order) == first).collect()
        }
    }
}

/// Who must act now: the current routing order (sequential) or every acting recipient
/// (parallel), who have not finished.
pub(crate) fn acting_now<'r>(
    envelope: &Envelope,
    recipients: &'r [Recipient],
) -> Vec<&'r Recipient> {
    let routing = envelope.routing_type;
    let open = |r: &&Recipient| matches!(r.status, RecipientStatus::Sent | RecipientStatus::Viewed);
    match routing {
        RoutingType::Parallel => first_to_act(routing, recipients)
            .into_iter()
            .filter(open)
            .collect(),
        RoutingType::Sequential => recipients
            .iter()
            .filter(|r| r.role != RecipientRole::Cc)
            .filter(|r| Some(r.routing_order) == envelope.current_routing_order)
            .filter(open)
            .collect(),
    }
}
