//! Envelopes (seed 000's envelopes, recipients and signature fields; seed 001's signing flow;
//! seed 003's evidence log): the sender's routes, the signing ceremony, the signing worker and
//! completion, all writing one hash-chained evidence trail. Each route, queue consumer and
//! schedule is its own Lambda ([`FUNCTIONS`]).

// The route futures nest the spans of the use cases and store calls they await.
#![recursion_limit = "256"]

pub mod acting;
pub mod api;
pub mod archive;
pub mod ceremony;
pub mod completion;
pub mod embedded;
pub mod error;
pub mod lifecycle;
pub mod mail;
pub mod packs;
pub mod renewal;
pub mod repo;
pub mod routes;
pub mod send;
pub mod service;
pub mod worker;

/// Every function of the area, each its own Lambda, all served by the area's one binary
/// (`gsign-envelopes`, which runs the one its `Handler` names) and by the local runner.
pub const FUNCTIONS: &[gsign_platform::lambda::FunctionSpec] = &[
    routes::CREATE_ENVELOPE,
    routes::LIST_ENVELOPES,
    routes::COUNT_ENVELOPES,
    routes::GET_ENVELOPE,
    routes::UPDATE_ENVELOPE,
    routes::DELETE_ENVELOPE,
    routes::ADD_RECIPIENT,
    routes::UPDATE_RECIPIENT,
    routes::REMOVE_RECIPIENT,
    routes::SET_ENVELOPE_FIELDS,
    routes::LIST_ENVELOPE_EVENTS,
    routes::SEND_ENVELOPE,
    routes::VOID_ENVELOPE,
    routes::REMIND_ENVELOPE,
    routes::DOWNLOAD_ENVELOPE,
    lifecycle::EXPIRE_ENVELOPES,
    lifecycle::SEND_REMINDERS,
    ceremony::VIEW_SIGNING,
    ceremony::SUBMIT_ACCESS_CODE,
    ceremony::GIVE_CONSENT,
    ceremony::SIGN_ENVELOPE,
    ceremony::DECLINE_ENVELOPE,
    ceremony::RENEW_SIGNING_LINK,
    routes::CORRECT_RECIPIENT,
    routes::CREATE_SIGNING_LINK,
    mail::LIST_MAIL_SUPPRESSIONS,
    mail::ADD_MAIL_SUPPRESSION,
    mail::REMOVE_MAIL_SUPPRESSION,
    mail::UNSUBSCRIBE_FROM_MAIL,
    mail::RECORD_MAIL_EVENT,
    routes::CREATE_RECIPIENT_VIEW,
    embedded::OPEN_EMBEDDED_SIGNING,
    embedded::EMBEDDED_SIGNING_PAGE,
    worker::SIGN_ENVELOPE,
    worker::RESUME_SIGNING,
    renewal::RENEW_ARCHIVE_TIMESTAMPS,
];
