//! Envelopes issued for a document pack's documents (seed 003): how a pack creates, sends
//! and voids them through the same code as every other envelope, and how every evidence
//! event of such an envelope shows on the pack's document (its envelope status, its sign
//! events, the pack becoming `signed`) in the transaction that records the event.

use gsign_core::envelopes::{
    EvidenceEvent, FieldInput, FieldType, NewRecipient, RecipientInput, RecipientRole,
};
use gsign_core::packs::{tracked, PackEnvelopeStatus, PackStatus};
use gsign_platform::http::Caller;
use uuid::Uuid;

use crate::error::EnvelopesError;
use crate::lifecycle::VoidInput;
use crate::repo::{self, DraftValues};
use crate::routes::EnvelopesApi;

/// One signer of a pack's document, in signing order.
#[derive(Debug, Clone)]
pub struct PackSigner {
    /// The pack's signer role (`buyer`, `talent`, …).
    pub role: String,
    /// Their name.
    pub name: String,
    /// Their email.
    pub email: String,
    /// Where their signature goes: page (1-based) and box from the top-left, in points.
    pub signature_box: (i32, f64, f64, f64, f64),
}

/// The envelope of one pack document.
#[derive(Debug, Clone)]
pub struct PackEnvelope {
    /// The generated PDF, as a ready document.
    pub document_id: Uuid,
    /// The envelope's name (the document's title).
    pub name: String,
    /// The message in the signing request.
    pub message: Option<String>,
    /// Who signs, in order.
    pub signers: Vec<PackSigner>,
}

/// The draft created for a pack document: the envelope and each role's recipient.
#[derive(Debug, Clone)]
pub struct PackDraft {
    /// The envelope.
    pub envelope_id: Uuid,
    /// `(role, recipient id)`, in signing order.
    pub recipients: Vec<(String, Uuid)>,
}

impl EnvelopesApi {
    /// Creates the sequential draft for `spec` in `tx` (the caller's transaction, which also
    /// links it to the pack document), with its evidence.
    #[tracing::instrument(skip_all)]
    pub async fn create_pack_draft(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        caller: &Caller,
        spec: &PackEnvelope,
    ) -> Result<PackDraft, EnvelopesError> {
        let values = DraftValues {
            name: Some(spec.name.clone()),
            message: spec.message.clone(),
            routing_type: Some("sequential".to_owned()),
            ..DraftValues::default()
        };
        let envelope = repo::insert(
            tx,
            caller.org,
            (caller.user, caller.api_key),
            spec.document_id,
            &values,
        )
        .await?;
        repo::record(
            tx,
            caller.org,
            Self::event(
                caller,
                envelope.id,
                "envelope.created",
                None,
                serde_json::json!({"document_id": spec.document_id, "source": "doc_pack"}),
            ),
        )
        .await?;
        let mut errors = Vec::new();
        let mut recipients = Vec::new();
        let mut fields = Vec::new();
        for (order, signer) in (1..).zip(&spec.signers) {
            let input = RecipientInput {
                email: signer.email.clone(),
                name: signer.name.clone(),
                role: Some(RecipientRole::Signer),
                routing_order: Some(order),
                auth_method: None,
                access_code: None,
                embedded: None,
            };
            let Some(new) =
                NewRecipient::parse(input, &format!("/signer_map/{}", signer.role), &mut errors)
            else {
                continue;
            };
            let recipient = repo::insert_recipient(tx, caller.org, envelope.id, &new, None).await?;
            repo::record(
                tx,
                caller.org,
                Self::event(
                    caller,
                    envelope.id,
                    "recipient.added",
                    Some(recipient.id),
                    recipient.evidence(),
                ),
            )
            .await?;
            let (page, x, y, width, height) = signer.signature_box;
            fields.push(FieldInput {
                recipient_id: recipient.id,
                field_type: FieldType::Signature,
                label: Some(signer.role.clone()),
                page,
                x,
                y,
                width,
                height,
                required: Some(true),
            });
            recipients.push((signer.role.clone(), recipient.id));
        }
        if !errors.is_empty() {
            return Err(EnvelopesError::Validation(errors));
        }
        repo::replace_fields(tx, envelope.id, &fields).await?;
        Ok(PackDraft {
            envelope_id: envelope.id,
            recipients,
        })
    }

    /// Sends a pack document's draft; one that was sent already (a retried issue) is left
    /// as it is.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn send_pack_envelope(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<(), EnvelopesError> {
        match self.send(caller, id).await {
            Ok(_) | Err(EnvelopesError::NotDraft(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Voids a pack document's envelope if it is still out; one already finished or voided
    /// is left as it is. A draft (never sent) is deleted.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn void_pack_envelope(
        &self,
        caller: &Caller,
        id: Uuid,
        reason: &str,
    ) -> Result<(), EnvelopesError> {
        match self
            .void(caller, id, VoidInput::new(reason.to_owned()))
            .await
        {
            Ok(_) | Err(EnvelopesError::NotSent(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// Shows `event` (just recorded for its envelope) on the pack document the envelope was
/// issued for, if any: the document's envelope status, a sign event with the signer's role,
/// and, when the last document completes, the pack `signed`.
#[tracing::instrument(skip_all)]
pub(crate) async fn track(
    client: &impl deadpool_postgres::GenericClient,
    event: &EvidenceEvent,
) -> Result<(), tokio_postgres::Error> {
    let Some(effect) = tracked(&event.action) else {
        return Ok(());
    };
    let Some(row) = client
        .query_opt(
            "SELECT doc_id, pack_id, signer_map_json FROM doc_instance WHERE envelope_id = $1",
            &[&event.envelope_id],
        )
        .await?
    else {
        return Ok(());
    };
    let doc: Uuid = row.get(0);
    let pack: Uuid = row.get(1);
    let signers: serde_json::Value = row.get(2);
    if let Some(status) = effect.envelope_status {
        client
            .execute(
                "UPDATE doc_instance SET envelope_status = $2 WHERE doc_id = $1",
                &[&doc, &status.as_str()],
            )
            .await?;
    }
    if let Some(sign_event) = effect.event {
        let signer = event.recipient_id.and_then(|recipient| {
            signers.as_object()?.iter().find(|(_, s)| {
                s.get("recipient_id").and_then(|v| v.as_str()) == Some(&recipient.to_string())
            })
        });
        let (role, email) = match signer {
            Some((role, s)) => (
                role.clone(),
                s.get("email").and_then(|v| v.as_str()).map(str::to_owned),
            ),
            None => ("sender".to_owned(), None),
        };
        let user = event
            .actor_id
            .filter(|_| event.actor_type == "user")
            .map(|id| id.to_string());
        client
            .execute(
                "INSERT INTO doc_sign_event (doc_id, actor_role, actor_user_id, actor_email, event, \
                 provider_payload) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &doc,
                    &role,
                    &user,
                    &email,
                    &sign_event.as_str(),
                    &serde_json::json!({
                        "envelope_id": event.envelope_id,
                        "sequence": event.sequence,
                        "action": event.action,
                        "recipient_id": event.recipient_id,
                        "ip": event.ip,
                        "user_agent": event.user_agent,
                        "details": event.details,
                        "occurred_at": event.occurred_at,
                    }),
                ],
            )
            .await?;
    }
    if effect.envelope_status == Some(PackEnvelopeStatus::Completed) {
        // The pack's row lock orders documents completing at once: the last one to take it
        // sees every other's committed status.
        client
            .query_opt(
                "SELECT 1 FROM doc_pack WHERE pack_id = $1 FOR UPDATE",
                &[&pack],
            )
            .await?;
        client
            .execute(
                "UPDATE doc_pack SET status = $2 WHERE pack_id = $1 AND status = $3 \
                 AND NOT EXISTS (SELECT 1 FROM doc_instance WHERE pack_id = $1 \
                 AND envelope_status <> 'completed')",
                &[
                    &pack,
                    &PackStatus::Signed.as_str(),
                    &PackStatus::Issued.as_str(),
                ],
            )
            .await?;
    }
    Ok(())
}
