//! `POST /v1/envelopes/{id}/send`: checks the draft (every problem at once), prepares the
//! document once with every field of every recipient (one PAdES signature field per signer,
//! and the seal's), stores that revision, and asks the recipients of the first routing order
//! (sequential) or every recipient but cc (parallel) to act, each with a signing link whose
//! token is stored hashed. All in one transaction with its evidence; the emails leave
//! through the outbox after commit.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use gsign_core::billing::{Limit, UsageType};
use gsign_core::envelopes::{
    send_problems, FieldType, RecipientRole, RoutingType, DEFAULT_EXPIRY_DAYS,
};
use gsign_core::webhooks::EventType;
use gsign_platform::database::Transaction;
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::storage::{ObjectRef, WorkDir};
use gsign_signing::form::{self, FieldKind, FieldSpec};
use secrecy::ExposeSecret;
use sha2::Digest as _;
use uuid::Uuid;

use crate::error::EnvelopesError;
pub use crate::service::acting::first_to_act;
use crate::service::EnvelopesApi;
use crate::store::{self, Envelope, Field, Letterhead, Recipient};

/// The PDF field that holds `recipient`'s signature.
pub fn signature_field_name(recipient: Uuid) -> String {
    format!("signature-{recipient}")
}

/// The PDF field of any other field.
pub fn field_name(field: Uuid) -> String {
    format!("field-{field}")
}

/// The platform seal's field, signed at completion.
pub const SEAL_FIELD: &str = "gsign-seal";

/// Every field of the envelope as the signing engine places it: each signer's first
/// signature field becomes their PAdES signature field; the rest are form fields.
pub fn field_specs(fields: &[Field]) -> Vec<FieldSpec> {
    let mut signers_with_field = HashSet::new();
    let mut specs: Vec<FieldSpec> = fields
        .iter()
        .map(|field| {
            let kind = match field.field_type {
                FieldType::Signature if signers_with_field.insert(field.recipient_id) => {
                    FieldKind::Signature
                }
                // A second signature box of the same signer shows the same drawing.
                FieldType::Signature | FieldType::Initial => FieldKind::Initials,
                FieldType::Date => FieldKind::Date,
                FieldType::Checkbox => FieldKind::Checkbox,
                FieldType::Text => FieldKind::Text,
            };
            FieldSpec {
                name: if kind == FieldKind::Signature {
                    signature_field_name(field.recipient_id)
                } else {
                    field_name(field.id)
                },
                kind,
                page: u32::try_from(field.page).unwrap_or(1),
                x: field.x as f32,
                y: field.y as f32,
                width: field.width as f32,
                height: field.height as f32,
            }
        })
        .collect();
    specs.push(FieldSpec {
        name: SEAL_FIELD.to_owned(),
        kind: FieldKind::Seal,
        page: 1,
        x: 0.0,
        y: 0.0,
        width: 0.0,
        height: 0.0,
    });
    specs
}

impl EnvelopesApi {
    /// Sends the draft `id`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn send(&self, caller: &Caller, id: Uuid) -> Result<Envelope, EnvelopesError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let envelope = Self::draft(&tx, caller, id).await?;
        let recipients = store::recipients(&tx, id).await?;
        let fields = store::fields(&tx, id).await?;
        check_sendable(&tx, caller, &envelope, &recipients, &fields).await?;
        let source = store::document_pdf(&tx, envelope.document_id)
            .await?
            .ok_or(EnvelopesError::NotFound("document"))?;
        let (stored, sha256) = self.prepare_document(caller, id, &source, &fields).await?;

        let now = Utc::now();
        let routing = envelope.routing_type;
        let expires_at = envelope
            .expires_at
            .unwrap_or(now + Duration::days(DEFAULT_EXPIRY_DAYS));
        let first_order = first_order(routing, &recipients);
        let envelope = store::mark_sent(&tx, id, first_order, expires_at, &stored, &sha256).await?;
        gsign_platform::billing::record_usage(&tx, caller.org, UsageType::Envelope, id).await?;
        let mut emails = Vec::new();
        let details = serde_json::json!({
            "prepared_sha256": sha256,
            "routing_type": routing.as_str(),
            "expires_at": expires_at,
        });
        store::record(
            &tx,
            caller.org,
            Self::event(caller, id, "envelope.sent", None, details),
        )
        .await?
        .announce_with(&mut emails);
        let letterhead = Letterhead {
            sender: store::sender_name(&tx, caller.user).await?,
            organization: store::organization_name(&tx, caller.org).await?,
        };
        let first = first_to_act(routing, &recipients);
        emails.extend(
            self.ask_all(&tx, caller, &envelope, &first, &letterhead)
                .await?,
        );
        let (hook, _) = outbox::webhook(
            &tx,
            caller.org,
            EventType::EnvelopeSent,
            serde_json::json!({"envelope_id": id, "status": "sent", "document_id": envelope.document_id}),
        )
        .await?;
        emails.push(hook);
        tx.commit().await?;
        drop(conn);
        self.base.relay.publish(&self.base.db, &emails).await;
        Ok(envelope)
    }

    /// The draft's document prepared once, so every field exists before the first signature,
    /// and stored as the envelope's revision 0; where it is and its SHA-256.
    #[tracing::instrument(skip_all)]
    async fn prepare_document(
        &self,
        caller: &Caller,
        id: Uuid,
        source: &ObjectRef,
        fields: &[Field],
    ) -> Result<(ObjectRef, String), EnvelopesError> {
        let work = WorkDir::new(&std::env::temp_dir(), "send")
            .map_err(|e| EnvelopesError::Internal(e.into()))?;
        let original = work.path("original.pdf");
        self.store
            .fetch_to_file(source, &original, self.settings.max_document_bytes)
            .await?;
        let specs = field_specs(fields);
        let prepared_path = work.path("prepared.pdf");
        let prepared = tokio::task::spawn_blocking(move || {
            let pdf = std::fs::read(&original)?;
            let prepared = match form::prepare(&pdf, &specs) {
                Ok(prepared) => prepared,
                // The document itself cannot take the fields (signed, encrypted, broken): the
                // sender's input, not our failure.
                Err(gsign_signing::SignError::Invalid(why)) => return Ok(Err(why)),
                Err(err) => return Err(err.into()),
            };
            std::fs::write(&prepared_path, &prepared)?;
            let sha256 = hex::encode(sha2::Sha256::digest(&prepared));
            Ok::<_, anyhow::Error>(Ok((prepared_path, sha256)))
        })
        .await
        .map_err(|e| EnvelopesError::Internal(e.into()))??;
        let (prepared_path, sha256) = prepared.map_err(|why| {
            EnvelopesError::invalid(
                "/document_id",
                format!("the document cannot be sent for signature: {why}"),
            )
        })?;
        let key = format!("envelopes/{}/{id}/revision-0.pdf", caller.org);
        let stored = self
            .store
            .put_file(&key, &prepared_path, "application/pdf")
            .await?;
        drop(work);
        Ok((stored, sha256))
    }

    /// Asks each of `recipients` to act, each with the `recipient.notified` evidence (the
    /// system's); the outbox rows to publish after commit.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn ask_all(
        &self,
        tx: &Transaction<'_>,
        caller: &Caller,
        envelope: &Envelope,
        recipients: &[&Recipient],
        letterhead: &Letterhead,
    ) -> Result<Vec<Uuid>, EnvelopesError> {
        let mut emails = Vec::new();
        for recipient in recipients {
            emails.extend(self.ask(tx, envelope, recipient, letterhead, None).await?);
            let mut notified = Self::event(
                caller,
                envelope.id,
                "recipient.notified",
                Some(recipient.id),
                serde_json::json!({"email": recipient.email, "routing_order": recipient.routing_order}),
            );
            notified.actor_type = "system".to_owned();
            notified.actor_id = None;
            store::record(tx, caller.org, notified)
                .await?
                .announce_with(&mut emails);
        }
        Ok(emails)
    }
}

/// The routing order that acts first (sequential routing; in parallel, everyone).
fn first_order(routing: RoutingType, recipients: &[Recipient]) -> Option<i32> {
    match routing {
        RoutingType::Sequential => first_to_act(routing, recipients)
            .first()
            .map(|r| r.routing_order),
        RoutingType::Parallel => None,
    }
}

/// Refuses a draft that cannot be sent (every problem at once: the document, recipients and
/// fields, and suppressed addresses), then one over the organization's monthly quota.
#[tracing::instrument(skip_all)]
async fn check_sendable(
    tx: &Transaction<'_>,
    caller: &Caller,
    envelope: &Envelope,
    recipients: &[Recipient],
    fields: &[Field],
) -> Result<(), EnvelopesError> {
    let document = store::document_facts(tx, envelope.document_id).await?;
    let mut problems = send_problems(
        &document,
        &recipients.iter().map(Recipient::facts).collect::<Vec<_>>(),
        &fields.iter().map(Field::facts).collect::<Vec<_>>(),
    );
    problems.extend(
        crate::service::mail::recipient_suppression_problems(tx, caller.org, recipients).await?,
    );
    if !problems.is_empty() {
        return Err(EnvelopesError::Validation(problems));
    }
    gsign_platform::billing::check_quota(tx, caller.org, Limit::EnvelopesPerMonth).await??;
    Ok(())
}

impl EnvelopesApi {
    /// Asks `recipient` to act, in `tx`: a fresh signing link (only its hash is kept, so any
    /// older link stops working) in a `signing_request` email through the outbox. Returns
    /// the outbox row to publish after commit; none for an embedded recipient, who signs in
    /// the sender's page (the sender asks for a view URL) and is mailed no link. A reminder
    /// (`reminder`: its number) is not transactional mail: it carries a one-click unsubscribe.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn ask(
        &self,
        tx: &Transaction<'_>,
        envelope: &Envelope,
        recipient: &Recipient,
        letterhead: &Letterhead,
        reminder: Option<i32>,
    ) -> anyhow::Result<Option<Uuid>> {
        let token = gsign_platform::credentials::new_token();
        store::mark_notified(tx, recipient.id, &token.hash).await?;
        if recipient.embedded {
            return Ok(None);
        }
        let action = match recipient.role {
            RecipientRole::Signer => "sign",
            RecipientRole::Approver => "approve",
            RecipientRole::Viewer | RecipientRole::Cc => "review",
        };
        outbox::email(
            tx,
            envelope.organization_id,
            &outbox::Email {
                template: "signing_request".to_owned(),
                to: recipient.email.clone(),
                data: serde_json::json!({
                    "recipient_name": recipient.name,
                    "sender": letterhead.sender,
                    "organization_name": letterhead.organization,
                    "envelope_name": envelope.name.clone().unwrap_or_else(|| "a document".to_owned()),
                    "message": envelope.message,
                    "reminder": reminder,
                    "action": action,
                    "link": format!("{}/sign?token={}", self.settings.app_url, token.secret.expose_secret()),
                    "expires_on": envelope.expires_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default(),
                }),
                language: envelope.language.clone(),
                envelope_id: Some(envelope.id),
                recipient_id: Some(recipient.id),
                bulk: reminder.is_some(),
            },
        )
        .await
        .map(Some)
    }
}
