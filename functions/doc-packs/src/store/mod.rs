//! The pack documents' side of their envelopes: the envelope status shown on a pack's
//! document, a sign event per signer (kept once per evidence sequence), and the pack `signed`
//! once its last document completes. The clause and template library's tables are in
//! `library`, the packs' and their documents' in `packs`.

pub mod library;
pub mod packs;

use anyhow::Context as _;
use gsign_core::envelopes::EvidenceEvent;
use gsign_core::packs::{tracked, PackEnvelopeStatus, PackStatus, Tracked};
use gsign_platform::database::{Database, DbError, Session};
use gsign_platform::params;
use uuid::Uuid;

/// Shows `event` of the organization's envelope on the pack document the envelope was issued
/// for, if any, in a transaction of its own. Idempotent, and never a step back: applying an
/// event twice, or an earlier one after a later one, changes nothing.
#[tracing::instrument(skip_all, fields(envelope = %event.envelope_id))]
pub(crate) async fn apply(db: &Database, org: Uuid, event: &EvidenceEvent) -> anyhow::Result<()> {
    let Some(effect) = tracked(&event.action) else {
        return Ok(());
    };
    let mut conn = db.connect().await.context("a connection")?;
    let tx = conn.begin().await.context("beginning")?;
    let Some(document) = PackDocument::of_envelope(&tx, org, event.envelope_id).await? else {
        return Ok(());
    };
    let completes = effect.envelope_status == Some(PackEnvelopeStatus::Completed);
    if completes {
        // The pack before its document, the order the pack's routes lock them in.
        document.lock_pack(&tx).await?;
    }
    if let Some(status) = effect.envelope_status {
        document.move_status(&tx, status, event.sequence).await?;
    }
    document.add_sign_event(&tx, effect, event).await?;
    if completes {
        document.sign_pack_if_all_completed(&tx).await?;
    }
    tx.commit().await.context("committing")?;
    Ok(())
}

/// The pack document an envelope was issued for.
struct PackDocument {
    doc: Uuid,
    pack: Uuid,
    signers: serde_json::Value,
}

impl PackDocument {
    #[tracing::instrument(skip_all)]
    async fn of_envelope(
        client: &(impl Session + ?Sized),
        org: Uuid,
        envelope: Uuid,
    ) -> anyhow::Result<Option<Self>> {
        let row = client
            .fetch_optional(
                "SELECT doc_id, pack_id, signer_map_json FROM doc_instance \
                 WHERE organization_id = :org AND envelope_id = :envelope",
                params!(org, envelope),
            )
            .await
            .context("reading the pack document")?;
        Ok(row
            .map(|row| -> Result<Self, DbError> {
                Ok(Self {
                    doc: row.get("doc_id")?,
                    pack: row.get("pack_id")?,
                    signers: row.get("signer_map_json")?,
                })
            })
            .transpose()?)
    }

    /// The document's envelope status, unless an event later in the envelope's sequence set
    /// it already.
    #[tracing::instrument(skip_all)]
    async fn move_status(
        &self,
        client: &(impl Session + ?Sized),
        status: PackEnvelopeStatus,
        sequence: i32,
    ) -> anyhow::Result<()> {
        client
            .run(
                "UPDATE doc_instance SET envelope_status = :status, envelope_sequence = :sequence \
                 WHERE doc_id = :doc AND envelope_sequence < :sequence",
                params!(doc = self.doc, status = status.as_str(), sequence),
            )
            .await
            .context("moving the document's envelope status")?;
        Ok(())
    }

    /// The sign event of `event` (for the signer's role, or the sender's), once.
    #[tracing::instrument(skip_all)]
    async fn add_sign_event(
        &self,
        client: &(impl Session + ?Sized),
        effect: Tracked,
        event: &EvidenceEvent,
    ) -> anyhow::Result<()> {
        let Some(sign_event) = effect.event else {
            return Ok(());
        };
        let (role, email) = self.actor(event);
        let user = event
            .actor_id
            .filter(|_| event.actor_type == "user")
            .map(|id| id.to_string());
        let payload = serde_json::json!({
            "envelope_id": event.envelope_id,
            "sequence": event.sequence,
            "action": event.action,
            "recipient_id": event.recipient_id,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "details": event.details,
            "occurred_at": event.occurred_at,
        });
        client
            .run(
                // Rows written before migration 0022 carry the sequence in their payload only.
                "INSERT INTO doc_sign_event (doc_id, actor_role, actor_user_id, actor_email, event, \
                 provider_payload, envelope_sequence, created_at) \
                 SELECT :doc::uuid, :role::text, :user::text, :email::text, :event::text, \
                 :payload::jsonb, :sequence::int, :occurred_at::timestamptz WHERE NOT EXISTS ( \
                     SELECT 1 FROM doc_sign_event WHERE doc_id = :doc::uuid \
                     AND envelope_sequence IS NULL \
                     AND provider_payload ->> 'sequence' = (:sequence::int)::text) \
                 ON CONFLICT (doc_id, envelope_sequence) DO NOTHING",
                params!(
                    doc = self.doc,
                    role,
                    user,
                    email,
                    event = sign_event.as_str(),
                    payload,
                    sequence = event.sequence,
                    occurred_at = event.occurred_at,
                ),
            )
            .await
            .context("adding the sign event")?;
        Ok(())
    }

    /// The role and address of whoever `event` is about: a signer of the pack's signer map,
    /// else the sender.
    fn actor(&self, event: &EvidenceEvent) -> (String, Option<String>) {
        let recipient = event.recipient_id.map(|id| id.to_string());
        let signer = recipient.and_then(|recipient| {
            self.signers.as_object()?.iter().find(|(_, s)| {
                s.get("recipient_id").and_then(|v| v.as_str()) == Some(recipient.as_str())
            })
        });
        match signer {
            Some((role, s)) => (
                role.clone(),
                s.get("email").and_then(|v| v.as_str()).map(str::to_owned),
            ),
            None => ("sender".to_owned(), None),
        }
    }

    /// Locks the pack's row: it orders documents completing at once, so the last one to
    /// take it sees every other's committed status.
    #[tracing::instrument(skip_all)]
    async fn lock_pack(&self, client: &(impl Session + ?Sized)) -> anyhow::Result<()> {
        client
            .fetch_optional(
                "SELECT 1 FROM doc_pack WHERE pack_id = :pack FOR UPDATE",
                params!(pack = self.pack),
            )
            .await
            .context("locking the pack")?;
        Ok(())
    }

    /// The pack `signed` when every document's envelope completed (the caller holds the
    /// pack's lock).
    #[tracing::instrument(skip_all)]
    async fn sign_pack_if_all_completed(
        &self,
        client: &(impl Session + ?Sized),
    ) -> anyhow::Result<()> {
        sign_if_all_completed(client, self.pack).await
    }
}

/// Marks the issued pack `pack` signed when every document's envelope completed; in the
/// caller's transaction, which holds the pack's row (or takes it here).
#[tracing::instrument(skip_all, fields(pack = %pack))]
pub(crate) async fn sign_if_all_completed(
    client: &(impl Session + ?Sized),
    pack: Uuid,
) -> anyhow::Result<()> {
    client
        .run(
            "UPDATE doc_pack SET status = :signed WHERE pack_id = :pack AND status = :issued \
             AND NOT EXISTS (SELECT 1 FROM doc_instance WHERE pack_id = :pack \
             AND envelope_status <> 'completed')",
            params!(
                pack,
                signed = PackStatus::Signed.as_str(),
                issued = PackStatus::Issued.as_str(),
            ),
        )
        .await
        .context("marking the pack signed")?;
    Ok(())
}
