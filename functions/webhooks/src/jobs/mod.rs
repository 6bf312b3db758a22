//! The webhooks jobs: `sqs-fan-out-webhook-event` (an outbox event becomes one delivery per
//! subscribed endpoint) and `sqs-deliver-webhook` (one signed attempt per message).

pub mod deliver;
pub mod fan_out;
