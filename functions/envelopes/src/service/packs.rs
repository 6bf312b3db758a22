//! Envelopes issued for a document pack's documents (seed 003): how a pack creates, sends
//! and voids them through the same code as every other envelope. The pack learns what
//! happens to them from the announced evidence events (`store::record`), as any follower.

use gsign_core::envelopes::{
    is_announced, EvidenceEvent, FieldInput, FieldType, NewRecipient, RecipientInput, RecipientRole,
};
use gsign_platform::database::Transaction;
use gsign_platform::http::Caller;
use gsign_platform::storage::ObjectRef;
use uuid::Uuid;

use crate::error::{EnvelopesCase, EnvelopesError};
use crate::service::lifecycle::VoidInput;
use crate::service::{CompletedDocuments, EnvelopesApi, PackDraft, PackEnvelope, PackSigner};
use crate::store::{self, DraftValues};

/// A pack signer as a recipient, at routing `order`.
fn signer_input(signer: &PackSigner, order: i32) -> RecipientInput {
    RecipientInput {
        email: signer.email.clone(),
        name: signer.name.clone(),
        role: Some(RecipientRole::Signer),
        routing_order: Some(order),
        auth_method: None,
        access_code: None,
        embedded: None,
    }
}

/// The pack signer's signature field, in their box, labelled with their role.
fn signature_field(signer: &PackSigner, recipient_id: Uuid) -> FieldInput {
    let (page, x, y, width, height) = signer.signature_box;
    FieldInput {
        recipient_id,
        field_type: FieldType::Signature,
        label: Some(signer.role.clone()),
        page,
        x,
        y,
        width,
        height,
        required: Some(true),
    }
}

impl EnvelopesApi {
    /// Creates the sequential draft for `spec` in `tx` (the caller's transaction, which also
    /// links it to the pack document), with its evidence.
    #[tracing::instrument(skip_all)]
    pub async fn create_pack_draft(
        &self,
        tx: &Transaction<'_>,
        caller: &Caller,
        spec: &PackEnvelope,
    ) -> Result<PackDraft, EnvelopesError> {
        let values = DraftValues {
            name: Some(spec.name.clone()),
            message: spec.message.clone(),
            routing_type: Some("sequential".to_owned()),
            ..DraftValues::default()
        };
        let envelope = store::insert(
            tx,
            caller.org,
            (caller.user, caller.api_key),
            spec.document_id,
            &values,
        )
        .await?;
        store::record(
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
            let pointer = format!("/signer_map/{}", signer.role);
            let Some(new) = NewRecipient::parse(signer_input(signer, order), &pointer, &mut errors)
            else {
                continue;
            };
            let recipient = Self::add_pack_signer(tx, caller, envelope.id, &new).await?;
            fields.push(signature_field(signer, recipient));
            recipients.push((signer.role.clone(), recipient));
        }
        if !errors.is_empty() {
            return Err(EnvelopesError::Validation(errors));
        }
        store::replace_fields(tx, envelope.id, &fields).await?;
        Ok(PackDraft {
            envelope_id: envelope.id,
            recipients,
        })
    }

    /// Adds a pack signer to the draft `envelope`, with the evidence; their id.
    #[tracing::instrument(skip_all)]
    async fn add_pack_signer(
        tx: &Transaction<'_>,
        caller: &Caller,
        envelope: Uuid,
        new: &NewRecipient,
    ) -> Result<Uuid, EnvelopesError> {
        let recipient = store::insert_recipient(tx, caller.org, envelope, new, None).await?;
        store::record(
            tx,
            caller.org,
            Self::event(
                caller,
                envelope,
                "recipient.added",
                Some(recipient.id),
                recipient.evidence(),
            ),
        )
        .await?;
        Ok(recipient.id)
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
            Ok(_) | Err(EnvelopesError::Area(EnvelopesCase::NotDraft(_))) => Ok(()),
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
            Ok(_) | Err(EnvelopesError::Area(EnvelopesCase::NotSent(_))) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The announced evidence events of the organization's envelope `id`, in order: what a
    /// pack applies right after its own send or void, before the announcements arrive.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn announced_events(
        &self,
        org: Uuid,
        id: Uuid,
    ) -> Result<Vec<EvidenceEvent>, EnvelopesError> {
        let client = self.base.db.connect().await?;
        if store::get(&client, org, id, false).await?.is_none() {
            return Err(EnvelopesError::NotFound("envelope"));
        }
        Ok(store::events(&client, id)
            .await?
            .into_iter()
            .map(|chained| chained.event)
            .filter(|event| is_announced(&event.action))
            .collect())
    }

    /// The stored final PDF and certificate of completion of the organization's envelope
    /// `id` (a pack's document downloads them).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn completed_documents(
        &self,
        org: Uuid,
        id: Uuid,
    ) -> Result<CompletedDocuments, EnvelopesError> {
        let client = self.base.db.connect().await?;
        let envelope = store::get(&client, org, id, false)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        let stored = |key: Option<String>, version_id: Option<String>| {
            key.map(|key| ObjectRef { key, version_id })
        };
        Ok(CompletedDocuments {
            final_pdf: stored(envelope.final_s3_key, envelope.final_s3_version_id),
            certificate: stored(
                envelope.certificate_s3_key,
                envelope.certificate_s3_version_id,
            ),
        })
    }
}
