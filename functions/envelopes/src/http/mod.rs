//! The envelopes area's HTTP side: its route table (each route's operation as the OpenAPI
//! document describes it, who may call it, its rate limit and replay, its cold start; the area
//! binary, the local runner and the OpenAPI document are made from it) and each resource's
//! glue (`envelopes`, `ceremony`, `embedded`, `mail`: parse, authorize, call the service, map
//! the answer).

mod ceremony;
mod embedded;
mod envelopes;
mod mail;

use gsign_core::envelopes::{EnvelopeStatus, RecipientInput};
use gsign_core::openapi::{schema, Operation, Reply};
use gsign_core::routing::SignInput;
use gsign_core::Action;
use gsign_platform::lambda::{AreaSpec, RouteSpec};
use gsign_platform::pagination::Page;
use gsign_platform::ratelimit::Policy;
use gsign_platform::storage::Presigned;
use schemars::JsonSchema;
use uuid::Uuid;

use crate::service::ceremony::{AccessCode, CeremonyView, Consent, Decline, NewLink, Signed};
use crate::service::drafts::{EnvelopeDetail, EnvelopeInput, Evidence, FieldsInput};
use crate::service::embedded::ViewUrl;
use crate::service::lifecycle::VoidInput;
use crate::service::mail::{AddSuppression, Correction, HandedOutLink, SuppressionView};
use crate::store::{Envelope, EnvelopeCounts, Field, Recipient};
use ceremony::{init_step, Step};
use embedded::{Open, Opened};
use envelopes::{init_route, Route};
use mail::{init_mail_route, MailRoute};

/// `GET /v1/envelopes` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListEnvelopesQuery {
    /// Rows per page: 1 to 100 (default 50).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only envelopes in this status.
    status: Option<EnvelopeStatus>,
    /// Only envelopes of this document.
    document_id: Option<Uuid>,
    /// `me`: only envelopes waiting for the signed-in person to act (not with an API key).
    #[schemars(extend("enum" = ["me"]))]
    waiting_for: Option<String>,
}

/// `GET /v1/envelopes/{id}/download` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct DownloadQuery {
    /// `current` (default: the newest revision), `final` (sealed) or `certificate` (of
    /// completion); the last two once completed.
    #[schemars(extend("enum" = ["current", "final", "certificate"]))]
    variant: Option<String>,
}

/// `POST /v1/envelopes/{id}/remind` answer.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct Reminded {
    /// The recipients sent a fresh signing link.
    #[schemars(length(min = 1))]
    reminded: Vec<Uuid>,
}

/// `GET /v1/mail/suppressions` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct ListSuppressionsQuery {
    /// Rows per page: 1 to 200 (default 50).
    #[schemars(range(min = 1, max = 200))]
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only this address (any case).
    email: Option<String>,
}

/// `POST /v1/mail/unsubscribe` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct UnsubscribeQuery {
    /// The token of the reminder's unsubscribe link.
    #[schemars(length(min = 32, max = 128))]
    token: String,
}

/// `POST /v1/mail/unsubscribe` answer.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct Unsubscribed {
    /// Always `true`: the address is on its organization's suppression list.
    #[schemars(extend("const" = true))]
    unsubscribed: bool,
}

/// `GET /embed/sign` query.
#[derive(JsonSchema)]
#[allow(dead_code)] // describes the wire, never built
struct EmbedPageQuery {
    /// The view URL's (or handed-out link's) ticket: it picks the origins allowed to frame
    /// the page (none when unknown).
    ticket: Option<String>,
}

/// The envelopes area.
pub const AREA: AreaSpec = AreaSpec {
    binary: "gsign-envelopes",
    name: "envelopes",
    description: "Envelopes: drafts, recipients and fields, sending, the signing ceremony, \
                  embedded signing, the evidence trail and mail suppressions.",
    routes: &[
        RouteSpec::new(
            Operation::new(
                "api-create-envelope",
                "POST",
                "/v1/envelopes",
                "A draft envelope for a document of the organization.",
                Reply::Json(201, schema::<EnvelopeDetail>),
            )
            .with_body(schema::<EnvelopeInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Create),
        )
        .idempotent("create-envelope"),
        RouteSpec::new(
            Operation::new(
                "api-list-envelopes",
                "GET",
                "/v1/envelopes",
                "The organization's envelopes, newest first (status, document_id, cursor).",
                Reply::Json(200, schema::<Page<Envelope>>),
            )
            .with_query(schema::<ListEnvelopesQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::List),
        ),
        RouteSpec::new(
            Operation::new(
                "api-count-envelopes",
                "GET",
                "/v1/envelopes/counts",
                "How many envelopes are in each state, and how many wait for the signed-in person.",
                Reply::Json(200, schema::<EnvelopeCounts>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::Counts),
        ),
        RouteSpec::new(
            Operation::new(
                "api-get-envelope",
                "GET",
                "/v1/envelopes/{id}",
                "An envelope with its recipients, fields and, for a draft, what stands in the way of sending.",
                Reply::Json(200, schema::<EnvelopeDetail>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::Get),
        ),
        RouteSpec::new(
            Operation::new(
                "api-update-envelope",
                "PATCH",
                "/v1/envelopes/{id}",
                "A draft's name, subject, message, routing, expiry, reminders, signature level.",
                Reply::Json(200, schema::<EnvelopeDetail>),
            )
            .with_body(schema::<EnvelopeInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Update),
        ),
        RouteSpec::new(
            Operation::new(
                "api-delete-envelope",
                "DELETE",
                "/v1/envelopes/{id}",
                "Deletes a draft.",
                Reply::Empty(204),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Delete),
        ),
        RouteSpec::new(
            Operation::new(
                "api-add-recipient",
                "POST",
                "/v1/envelopes/{id}/recipients",
                "Adds a recipient to a draft (access codes stored hashed).",
                Reply::Json(201, schema::<Recipient>),
            )
            .with_body(schema::<RecipientInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::AddRecipient),
        ),
        RouteSpec::new(
            Operation::new(
                "api-update-recipient",
                "PUT",
                "/v1/envelopes/{id}/recipients/{recipient_id}",
                "Replaces a draft recipient's values (an access code left out is kept).",
                Reply::Json(200, schema::<Recipient>),
            )
            .with_body(schema::<RecipientInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::UpdateRecipient),
        ),
        RouteSpec::new(
            Operation::new(
                "api-remove-recipient",
                "DELETE",
                "/v1/envelopes/{id}/recipients/{recipient_id}",
                "Removes a draft recipient and their fields.",
                Reply::Empty(204),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::RemoveRecipient),
        ),
        RouteSpec::new(
            Operation::new(
                "api-set-envelope-fields",
                "PUT",
                "/v1/envelopes/{id}/fields",
                "Replaces a draft's fields (checked against the pages).",
                Reply::Json(200, schema::<Vec<Field>>),
            )
            .with_body(schema::<FieldsInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::SetFields),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-envelope-events",
                "GET",
                "/v1/envelopes/{id}/events",
                "The evidence trail and whether its hash chain verifies.",
                Reply::Json(200, schema::<Evidence>),
            ),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::Events),
        ),
        RouteSpec::new(
            Operation::new(
                "api-send-envelope",
                "POST",
                "/v1/envelopes/{id}/send",
                "Checks the draft, prepares the document with every field, and asks the first recipients to act.",
                Reply::Json(200, schema::<Envelope>),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Send),
        ),
        RouteSpec::new(
            Operation::new(
                "api-void-envelope",
                "POST",
                "/v1/envelopes/{id}/void",
                "The sender voids a sent envelope with a reason; recipients who were asked are told.",
                Reply::Json(200, schema::<Envelope>),
            )
            .with_body(schema::<VoidInput>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Void),
        ),
        RouteSpec::new(
            Operation::new(
                "api-remind-envelope",
                "POST",
                "/v1/envelopes/{id}/remind",
                "A fresh signing link to whoever must act now, within the envelope's reminder cap.",
                Reply::Json(200, schema::<Reminded>),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::Remind),
        ),
        RouteSpec::new(
            Operation::new(
                "api-correct-recipient",
                "POST",
                "/v1/envelopes/{id}/recipients/{recipient_id}/correct",
                "A new address for a recipient who has not acted; their old link stops working.",
                Reply::Json(200, schema::<Recipient>),
            )
            .with_body(schema::<Correction>),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::CorrectRecipient),
        ),
        RouteSpec::new(
            Operation::new(
                "api-create-signing-link",
                "POST",
                "/v1/envelopes/{id}/recipients/{recipient_id}/signing-link",
                "A single-use signing link to hand to a recipient another way than mail.",
                Reply::Json(201, schema::<HandedOutLink>),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::SigningLink),
        ),
        RouteSpec::new(
            Operation::new(
                "api-list-mail-suppressions",
                "GET",
                "/v1/mail/suppressions",
                "The organization's mail suppression list (owners and admins).",
                Reply::Json(200, schema::<Page<SuppressionView>>),
            )
            .with_query(schema::<ListSuppressionsQuery>),
            Action::ReadMailSuppressions,
            |env, spec| init_mail_route(env, spec, MailRoute::ListSuppressions),
        ),
        // 201 when the address is added; 200 with the existing entry when it was listed
        // already.
        RouteSpec::new(
            Operation::new(
                "api-add-mail-suppression",
                "POST",
                "/v1/mail/suppressions",
                "Puts an address on the organization's mail suppression list.",
                Reply::Json(201, schema::<SuppressionView>),
            )
            .with_body(schema::<AddSuppression>)
            .or_status(200, "The address was already on the list: its entry."),
            Action::ManageMailSuppressions,
            |env, spec| init_mail_route(env, spec, MailRoute::AddSuppression),
        ),
        RouteSpec::new(
            Operation::new(
                "api-remove-mail-suppression",
                "DELETE",
                "/v1/mail/suppressions/{email}",
                "Takes an address off the organization's mail suppression list.",
                Reply::Empty(204),
            ),
            Action::ManageMailSuppressions,
            |env, spec| init_mail_route(env, spec, MailRoute::RemoveSuppression),
        ),
        RouteSpec::public(
            Operation::new(
                "api-unsubscribe-from-mail",
                "POST",
                "/v1/mail/unsubscribe",
                "RFC 8058 one-click unsubscribe from a reminder (the link's token is the credential).",
                Reply::Json(200, schema::<Unsubscribed>),
            )
            .with_query(schema::<UnsubscribeQuery>),
            |env, spec| init_mail_route(env, spec, MailRoute::Unsubscribe),
        )
        .limited(Policy::Sensitive),
        RouteSpec::new(
            Operation::new(
                "api-download-envelope",
                "GET",
                "/v1/envelopes/{id}/download",
                "A presigned link to the current revision (final and certificate once completed).",
                Reply::Json(200, schema::<Presigned>),
            )
            .with_query(schema::<DownloadQuery>),
            Action::ReadDocuments,
            |env, spec| init_route(env, spec, Route::Download),
        ),
        RouteSpec::public(
            Operation::new(
                "api-view-signing",
                "GET",
                "/v1/signing/{token}",
                "The signing page's data for the recipient of the link; records viewed.",
                Reply::Json(200, schema::<CeremonyView>),
            ),
            |env, spec| init_step(env, spec, Step::View),
        )
        .limited(Policy::SigningLink),
        RouteSpec::public(
            Operation::new(
                "api-submit-access-code",
                "POST",
                "/v1/signing/{token}/access-code",
                "Checks the recipient's access code; five wrong codes lock the link (15 minutes, then longer).",
                Reply::Empty(204),
            )
            .with_body(schema::<AccessCode>),
            |env, spec| init_step(env, spec, Step::AccessCode),
        )
        .limited(Policy::SigningLink),
        RouteSpec::public(
            Operation::new(
                "api-give-consent",
                "POST",
                "/v1/signing/{token}/consent",
                "Records the electronic-records consent (disclosure version, time, IP, user agent).",
                Reply::Empty(204),
            )
            .with_body(schema::<Consent>),
            |env, spec| init_step(env, spec, Step::Consent),
        )
        .limited(Policy::SigningLink),
        RouteSpec::public(
            Operation::new(
                "api-sign-envelope",
                "POST",
                "/v1/signing/{token}/sign",
                "A signer's field values and adopted signature (or an approver's approval), checked and recorded.",
                Reply::Json(202, schema::<Signed>),
            )
            .with_body(schema::<SignInput>),
            |env, spec| init_step(env, spec, Step::Sign),
        )
        .limited(Policy::SigningLink),
        RouteSpec::public(
            Operation::new(
                "api-decline-envelope",
                "POST",
                "/v1/signing/{token}/decline",
                "The recipient declines with a reason: the envelope ends for everyone, the sender is told.",
                Reply::Empty(204),
            )
            .with_body(schema::<Decline>),
            |env, spec| init_step(env, spec, Step::Decline),
        )
        .limited(Policy::SigningLink),
        RouteSpec::public(
            Operation::new(
                "api-renew-signing-link",
                "POST",
                "/v1/signing/{token}/new-link",
                "Mails a fresh link to a completed envelope's documents to the recipient's own address.",
                Reply::Json(202, schema::<NewLink>),
            ),
            |env, spec| init_step(env, spec, Step::NewLink),
        )
        .limited(Policy::SigningLink),
        RouteSpec::new(
            Operation::new(
                "api-create-recipient-view",
                "POST",
                "/v1/envelopes/{id}/recipients/{recipient_id}/view",
                "A single-use URL, good for five minutes, where an embedded recipient signs inside the sender's page.",
                Reply::Json(201, schema::<ViewUrl>),
            ),
            Action::WriteDocuments,
            |env, spec| init_route(env, spec, Route::RecipientView),
        ),
        RouteSpec::public(
            Operation::new(
                "api-open-embedded-signing",
                "POST",
                "/v1/signing/embedded",
                "Spends an embedded view URL's ticket (once, within five minutes) for the signing token that page alone holds.",
                Reply::Json(200, schema::<Opened>),
            )
            .with_body(schema::<Open>),
            embedded::init_open,
        ),
        RouteSpec::public(
            Operation::new(
                "web-embedded-signing-page",
                "GET",
                "/embed/sign",
                "The web app's signing page for an iframe, with frame-ancestors set to the organization's embed origins.",
                Reply::Other(
                    200,
                    "text/html",
                    "The web app's page, framed only by the organization's `settings.embed_origins`.",
                ),
            )
            .with_query(schema::<EmbedPageQuery>),
            embedded::init_page,
        ),
    ],
    jobs: &[
        crate::jobs::schedules::EXPIRE_ENVELOPES,
        crate::jobs::schedules::SEND_REMINDERS,
        crate::jobs::mail_events::RECORD_MAIL_EVENT,
        crate::jobs::worker::SIGN_ENVELOPE,
        crate::jobs::worker::RESUME_SIGNING,
        crate::jobs::renewal::RENEW_ARCHIVE_TIMESTAMPS,
    ],
};
