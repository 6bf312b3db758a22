//! The local stack without AWS: provisions `moto_server` from `template.yaml` and runs every
//! function the way API Gateway, SQS event sources and EventBridge schedules would.

pub mod provision;
pub mod runner;
pub mod schedule;
pub mod template;
pub mod tsa;

pub use runner::{LocalStack, Registry, Running, StackConfig};

/// Every function this build contains. A function missing here fails the runner at start
/// (and the template consistency test), so the template and the code cannot drift.
pub fn registry() -> Registry {
    Registry::new([
        gsign_functions_system::health::FUNCTION,
        gsign_functions_system::migrate::FUNCTION,
        gsign_functions_accounts::authorize::FUNCTION,
        gsign_functions_accounts::me::FUNCTION,
        gsign_functions_accounts::auth::REGISTER,
        gsign_functions_accounts::auth::LOGIN,
        gsign_functions_accounts::auth::REFRESH,
        gsign_functions_accounts::auth::LOGOUT,
        gsign_functions_accounts::auth::VERIFY_EMAIL,
        gsign_functions_accounts::auth::PASSWORD_RESET,
        gsign_functions_accounts::auth::PASSWORD_RESET_CONFIRM,
        gsign_functions_accounts::auth::ACCEPT_INVITATION,
        gsign_functions_accounts::manage::UPDATE_ME,
        gsign_functions_accounts::manage::GET_ORGANIZATION,
        gsign_functions_accounts::manage::UPDATE_ORGANIZATION,
        gsign_functions_accounts::manage::LIST_MEMBERS,
        gsign_functions_accounts::manage::INVITE_MEMBER,
        gsign_functions_accounts::manage::UPDATE_MEMBER,
        gsign_functions_accounts::manage::REMOVE_MEMBER,
        gsign_functions_accounts::manage::LIST_API_KEYS,
        gsign_functions_accounts::manage::CREATE_API_KEY,
        gsign_functions_accounts::manage::REVOKE_API_KEY,
        gsign_functions_accounts::manage::LIST_AUDIT_EVENTS,
        gsign_functions_system::outbox::RECORD_AUDIT_EVENT,
        gsign_functions_system::outbox::SEND_EMAIL,
        gsign_functions_system::outbox::SWEEP_OUTBOX,
        gsign_functions_documents::routes::CREATE_DOCUMENT,
        gsign_functions_documents::routes::LIST_DOCUMENTS,
        gsign_functions_documents::routes::GET_DOCUMENT,
        gsign_functions_documents::routes::UPDATE_DOCUMENT,
        gsign_functions_documents::routes::DOWNLOAD_DOCUMENT,
        gsign_functions_documents::routes::DELETE_DOCUMENT,
        gsign_functions_documents::routes::SET_DOCUMENT_LEGAL_HOLD,
        gsign_functions_documents::ingest::FUNCTION,
        gsign_functions_certificates::routes::CREATE_CERTIFICATE,
        gsign_functions_certificates::routes::LIST_CERTIFICATES,
        gsign_functions_certificates::routes::GET_CERTIFICATE,
        gsign_functions_certificates::routes::IMPORT_CERTIFICATE_CHAIN,
        gsign_functions_certificates::routes::SET_DEFAULT_CERTIFICATE,
        gsign_functions_certificates::routes::REVOKE_CERTIFICATE,
        gsign_functions_signatures::verify::VERIFY_SIGNATURES,
        gsign_functions_envelopes::routes::CREATE_ENVELOPE,
        gsign_functions_envelopes::routes::LIST_ENVELOPES,
        gsign_functions_envelopes::routes::GET_ENVELOPE,
        gsign_functions_envelopes::routes::UPDATE_ENVELOPE,
        gsign_functions_envelopes::routes::DELETE_ENVELOPE,
        gsign_functions_envelopes::routes::ADD_RECIPIENT,
        gsign_functions_envelopes::routes::UPDATE_RECIPIENT,
        gsign_functions_envelopes::routes::REMOVE_RECIPIENT,
        gsign_functions_envelopes::routes::SET_ENVELOPE_FIELDS,
        gsign_functions_envelopes::routes::LIST_ENVELOPE_EVENTS,
        gsign_functions_envelopes::routes::SEND_ENVELOPE,
        gsign_functions_envelopes::routes::VOID_ENVELOPE,
        gsign_functions_envelopes::routes::REMIND_ENVELOPE,
        gsign_functions_envelopes::routes::DOWNLOAD_ENVELOPE,
        gsign_functions_envelopes::lifecycle::EXPIRE_ENVELOPES,
        gsign_functions_envelopes::lifecycle::SEND_REMINDERS,
        gsign_functions_envelopes::ceremony::VIEW_SIGNING,
        gsign_functions_envelopes::ceremony::SUBMIT_ACCESS_CODE,
        gsign_functions_envelopes::ceremony::GIVE_CONSENT,
        gsign_functions_envelopes::ceremony::SIGN_ENVELOPE,
        gsign_functions_envelopes::ceremony::DECLINE_ENVELOPE,
        gsign_functions_envelopes::worker::SIGN_ENVELOPE,
        gsign_functions_envelopes::worker::RESUME_SIGNING,
    ])
}
