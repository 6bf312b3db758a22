//! The `doc_pack` and `doc_instance` tables, the `doc_sign_event` rows a pack's documents
//! show, and the ready `documents` row each generated PDF is recorded as.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gsign_core::packs::{PackEnvelopeStatus, PackStatus, Signer};
use gsign_platform::database::{DbError, Row, Session};
use gsign_platform::params;
use gsign_platform::storage::ObjectRef;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// A pack.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DocPack")]
pub struct Pack {
    /// Id.
    pub id: Uuid,
    /// The caller's reference.
    pub reference: String,
    /// Where it stands.
    pub status: PackStatus,
    /// The generator that typeset it (same inputs + same generator = same bytes).
    pub generator_ver: String,
    /// City code.
    pub city: String,
    /// Template ids asked for.
    #[schemars(with = "Vec<Uuid>")]
    pub templates: Value,
    /// The values given.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub variables: Value,
    /// Role -> signer.
    #[schemars(with = "BTreeMap<String, Signer>")]
    pub signer_map: Value,
    /// The pack that replaced it.
    pub superseded_by: Option<Uuid>,
    /// Why it was voided.
    pub void_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const PACK_COLUMNS: &str =
    "pack_id, reference, status, generator_ver, city, templates, variables, \
    signer_map, superseded_by, void_reason, created_at, updated_at";

impl TryFrom<&Row> for Pack {
    type Error = DbError;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.get("pack_id")?,
            reference: row.get("reference")?,
            status: row.stored("status")?,
            generator_ver: row.get("generator_ver")?,
            city: row.get("city")?,
            templates: row.get("templates")?,
            variables: row.get("variables")?,
            signer_map: row.get("signer_map")?,
            superseded_by: row.get("superseded_by")?,
            void_reason: row.get("void_reason")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// The organization's pack `id`, with `lock` (`""` or `" FOR UPDATE"`) after the statement.
async fn select_pack(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    lock: &str,
) -> Result<Option<Pack>, DbError> {
    client
        .fetch_optional(
            &format!(
                "SELECT {PACK_COLUMNS} FROM doc_pack WHERE organization_id = :org \
                 AND pack_id = :id{lock}"
            ),
            params!(org, id),
        )
        .await?
        .as_ref()
        .map(Pack::try_from)
        .transpose()
}

/// The organization's pack `id`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn get(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
) -> Result<Option<Pack>, DbError> {
    select_pack(client, org, id, "").await
}

/// The organization's pack `id`, its row locked until the caller's transaction ends.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn get_for_update(
    tx: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
) -> Result<Option<Pack>, DbError> {
    select_pack(tx, org, id, " FOR UPDATE").await
}

/// The list route's filters.
pub struct ListFilter<'a> {
    /// This reference only.
    pub reference: Option<&'a str>,
    /// This status only.
    pub status: Option<PackStatus>,
    /// After this page's last pack.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// A page of the organization's packs, newest first.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &(impl Session + ?Sized),
    org: Uuid,
    filter: &ListFilter<'_>,
    limit: i64,
) -> Result<Vec<Pack>, DbError> {
    let (after_t, after_id) = filter.after.unzip();
    client
        .fetch_all(
            &format!(
                "SELECT {PACK_COLUMNS} FROM doc_pack WHERE organization_id = :org \
                 AND (:reference::text IS NULL OR reference = :reference) \
                 AND (:status::text IS NULL OR status = :status) \
                 AND (:after_t::timestamptz IS NULL \
                      OR (created_at, pack_id) < (:after_t::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, pack_id DESC LIMIT :limit"
            ),
            params!(
                org,
                reference = filter.reference,
                status = filter.status.map(PackStatus::as_str),
                after_t,
                after_id,
                limit,
            ),
        )
        .await?
        .iter()
        .map(Pack::try_from)
        .collect()
}

/// The live pack (draft, issued or signed) of `reference`.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn live(
    client: &(impl Session + ?Sized),
    org: Uuid,
    reference: &str,
) -> Result<Option<Uuid>, DbError> {
    client
        .fetch_optional(
            "SELECT pack_id FROM doc_pack WHERE organization_id = :org AND reference = :reference \
             AND status IN ('draft', 'issued', 'signed')",
            params!(org, reference),
        )
        .await?
        .map(|row| row.get("pack_id"))
        .transpose()
}

/// A pack to record as a draft.
pub struct NewPack<'a> {
    /// Its id.
    pub id: Uuid,
    /// The organization.
    pub org: Uuid,
    /// The caller's reference.
    pub reference: &'a str,
    /// The generator that typeset it.
    pub generator_ver: &'a str,
    /// City code.
    pub city: &'a str,
    /// Template ids, in order (a JSON list).
    pub templates: Value,
    /// The values given.
    pub variables: &'a Value,
    /// Role -> signer.
    pub signer_map: Value,
    /// The user or API key that generated it.
    pub created_by: &'a str,
}

/// Records `new` as a draft; a unique violation when its reference has a live pack already.
#[tracing::instrument(skip_all, fields(pack = %new.id))]
pub async fn insert(tx: &(impl Session + ?Sized), new: &NewPack<'_>) -> Result<(), DbError> {
    tx.run(
        "INSERT INTO doc_pack (pack_id, organization_id, reference, status, generator_ver, city, \
         templates, variables, signer_map, created_by) VALUES (:pack_id, :org, :reference, \
         'draft', :generator_ver, :city, :templates, :variables, :signer_map, :created_by)",
        params!(
            pack_id = new.id,
            org = new.org,
            reference = new.reference,
            generator_ver = new.generator_ver,
            city = new.city,
            templates = new.templates,
            variables = new.variables,
            signer_map = new.signer_map,
            created_by = new.created_by,
        ),
    )
    .await?;
    Ok(())
}

/// Marks the pack `old` superseded if it is still open (a draft or issued); whether it was.
#[tracing::instrument(skip_all, fields(old = %old))]
pub async fn supersede(tx: &(impl Session + ?Sized), old: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .fetch_optional(
            "UPDATE doc_pack SET status = 'superseded' WHERE pack_id = :old \
             AND status IN ('draft', 'issued') RETURNING status",
            params!(old),
        )
        .await?
        .is_some())
}

/// Names `pack_id` as the pack that replaced `old`.
#[tracing::instrument(skip_all, fields(old = %old, pack = %pack_id))]
pub async fn set_superseded_by(
    tx: &(impl Session + ?Sized),
    old: Uuid,
    pack_id: Uuid,
) -> Result<(), DbError> {
    tx.run(
        "UPDATE doc_pack SET superseded_by = :pack_id WHERE pack_id = :old",
        params!(old, pack_id),
    )
    .await?;
    Ok(())
}

/// Marks the pack `id` issued if it is a draft (a pack past that stays as it is).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_issued(tx: &(impl Session + ?Sized), id: Uuid) -> Result<(), DbError> {
    tx.run(
        "UPDATE doc_pack SET status = 'issued' WHERE pack_id = :id AND status = 'draft'",
        params!(id),
    )
    .await?;
    Ok(())
}

/// Marks the pack `id` voided, keeping `reason`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn void(tx: &(impl Session + ?Sized), id: Uuid, reason: &str) -> Result<(), DbError> {
    tx.run(
        "UPDATE doc_pack SET status = 'voided', void_reason = :reason WHERE pack_id = :id",
        params!(id, reason),
    )
    .await?;
    Ok(())
}

/// One document of a pack, as its row (and its PDF's legal hold) reads; its sign events are
/// read apart, by [`sign_events`].
#[derive(Debug)]
pub struct InstanceRow {
    /// Its `doc_id`.
    pub id: Uuid,
    /// Place in the pack.
    pub position: i32,
    /// Its title.
    pub title: String,
    /// The template version.
    pub template_id: Uuid,
    /// Its version number.
    pub template_version: i32,
    /// The clause versions typeset.
    pub clauses_resolved: Value,
    /// Placeholder -> text, as typeset.
    pub variables_filled: Value,
    /// The generated PDF as a document.
    pub document_id: Uuid,
    /// `s3://bucket/key` of the generated PDF.
    pub render_pdf_s3: String,
    /// Its SHA-256.
    pub render_pdf_sha256: String,
    /// Pages.
    pub page_count: i32,
    /// Where each role signs.
    pub signature_boxes: Value,
    /// Its envelope, once issued.
    pub envelope_id: Option<Uuid>,
    /// Its envelope's state.
    pub envelope_status: PackEnvelopeStatus,
    /// Role -> signer (`signer_map_json`).
    pub signer_map: Value,
    /// Whether its document is under legal hold.
    pub legal_hold: bool,
}

impl TryFrom<&Row> for InstanceRow {
    type Error = DbError;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.get("doc_id")?,
            position: row.get("position")?,
            title: row.get("title")?,
            template_id: row.get("template_id")?,
            template_version: row.get("template_version")?,
            clauses_resolved: row.get("clauses_resolved")?,
            variables_filled: row.get("variables_filled")?,
            document_id: row.get("document_id")?,
            render_pdf_s3: row.get("render_pdf_s3")?,
            render_pdf_sha256: row.get("render_pdf_sha256")?,
            page_count: row.get("page_count")?,
            signature_boxes: row.get("signature_boxes")?,
            envelope_id: row.get("envelope_id")?,
            envelope_status: row.stored("envelope_status")?,
            signer_map: row.get("signer_map_json")?,
            legal_hold: row.get("legal_hold")?,
        })
    }
}

/// The documents of `pack`, in order.
#[tracing::instrument(skip_all, fields(pack = %pack))]
pub async fn instances(
    client: &(impl Session + ?Sized),
    pack: Uuid,
) -> Result<Vec<InstanceRow>, DbError> {
    client
        .fetch_all(
            "SELECT i.*, d.legal_hold FROM doc_instance i JOIN documents d ON d.id = i.document_id \
             WHERE i.pack_id = :pack ORDER BY i.position",
            params!(pack),
        )
        .await?
        .iter()
        .map(InstanceRow::try_from)
        .collect()
}

/// One `doc_sign_event` row.
#[derive(Debug, Clone)]
pub struct SignEventRow {
    /// Its id.
    pub id: Uuid,
    /// The document it happened to.
    pub doc_id: Uuid,
    /// The signer role, or `sender`.
    pub actor_role: String,
    /// The user, when a person of the organization acted.
    pub actor_user_id: Option<String>,
    /// The signer's email.
    pub actor_email: Option<String>,
    /// What happened.
    pub event: String,
    /// The envelope evidence it came from.
    pub provider_payload: Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&Row> for SignEventRow {
    type Error = DbError;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.get("sign_event_id")?,
            doc_id: row.get("doc_id")?,
            actor_role: row.get("actor_role")?,
            actor_user_id: row.get("actor_user_id")?,
            actor_email: row.get("actor_email")?,
            event: row.get("event")?,
            provider_payload: row.get("provider_payload")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// The sign events of every document of `pack`, oldest first.
#[tracing::instrument(skip_all, fields(pack = %pack))]
pub async fn sign_events(
    client: &(impl Session + ?Sized),
    pack: Uuid,
) -> Result<Vec<SignEventRow>, DbError> {
    client
        .fetch_all(
            "SELECT e.* FROM doc_sign_event e JOIN doc_instance i ON i.doc_id = e.doc_id \
             WHERE i.pack_id = :pack ORDER BY e.created_at, e.envelope_sequence, e.sign_event_id",
            params!(pack),
        )
        .await?
        .iter()
        .map(SignEventRow::try_from)
        .collect()
}

/// The ready document a generated PDF is recorded as (the PDF is also its original).
pub struct NewDocument<'a> {
    /// The organization.
    pub org: Uuid,
    /// The person who generated it, if a person did.
    pub user: Option<Uuid>,
    /// The API key that generated it, if a key did.
    pub api_key: Option<Uuid>,
    /// Its name (the document's title).
    pub name: &'a str,
    /// Its file name.
    pub original_name: &'a str,
    /// Bytes.
    pub size: i64,
    /// Pages.
    pub page_count: i32,
    /// Each page's size and rotation (a JSON list).
    pub pages: Value,
    /// The stored PDF.
    pub pdf: &'a ObjectRef,
    /// Its SHA-256, hex.
    pub sha256: &'a str,
    /// Its metadata (a JSON object).
    pub metadata: Value,
}

/// Records `new` as a ready document of its organization; its id.
#[tracing::instrument(skip_all, fields(org = %new.org))]
pub async fn insert_document(
    tx: &(impl Session + ?Sized),
    new: &NewDocument<'_>,
) -> Result<Uuid, DbError> {
    tx.fetch_one(
        "INSERT INTO documents (organization_id, user_id, api_key_id, name, original_name, type, \
         mime_type, size, page_count, pages, s3_key, s3_version_id, pdf_s3_key, pdf_s3_version_id, \
         status, hash, pdf_hash, metadata, processed_at) \
         VALUES (:org, :user, :api_key, :name, :original_name, 'pdf', 'application/pdf', :size, \
         :page_count, :pages, :key, :version_id, :key, :version_id, 'ready', :sha256, :sha256, \
         :metadata, now()) RETURNING id",
        params!(
            org = new.org,
            user = new.user,
            api_key = new.api_key,
            name = new.name,
            original_name = new.original_name,
            size = new.size,
            page_count = new.page_count,
            pages = new.pages,
            key = new.pdf.key,
            version_id = new.pdf.version_id,
            sha256 = new.sha256,
            metadata = new.metadata,
        ),
    )
    .await?
    .get("id")
}

/// A pack's document to record, its columns by name.
pub struct NewInstance<'a> {
    /// Its `doc_id`.
    pub doc_id: Uuid,
    /// The pack.
    pub pack: Uuid,
    /// The organization.
    pub org: Uuid,
    /// Place in the pack, from 1.
    pub position: i32,
    /// The template version.
    pub template_id: Uuid,
    /// Its version number.
    pub template_version: i32,
    /// The clause versions typeset (a JSON list).
    pub clauses_resolved: Value,
    /// Placeholder -> text, as typeset.
    pub variables_filled: Value,
    /// The generated PDF as a document.
    pub document_id: Uuid,
    /// `s3://bucket/key` of the generated PDF.
    pub render_pdf_s3: String,
    /// Its object version.
    pub render_pdf_version: Option<&'a str>,
    /// Its SHA-256, hex.
    pub render_pdf_sha256: &'a str,
    /// The hash file beside it.
    pub hash: &'a ObjectRef,
    /// Pages.
    pub page_count: i32,
    /// Where each role signs (a JSON list).
    pub signature_boxes: Value,
    /// Role -> signer, for the template's roles.
    pub signer_map: Value,
    /// Its title.
    pub title: &'a str,
}

/// Records `new`.
#[tracing::instrument(skip_all, fields(pack = %new.pack, doc_id = %new.doc_id))]
pub async fn insert_instance(
    tx: &(impl Session + ?Sized),
    new: &NewInstance<'_>,
) -> Result<(), DbError> {
    tx.run(
        "INSERT INTO doc_instance (doc_id, pack_id, organization_id, position, template_id, template_version, \
         clauses_resolved, variables_filled, document_id, render_pdf_s3, render_pdf_version, render_pdf_sha256, \
         hash_s3_key, hash_s3_version, page_count, signature_boxes, signer_map_json, title) \
         VALUES (:doc_id, :pack, :org, :position, :template_id, :template_version, :clauses, \
         :variables, :document, :render_pdf_s3, :render_pdf_version, :sha256, :hash_key, \
         :hash_version, :page_count, :boxes, :signers, :name)",
        params!(
            doc_id = new.doc_id,
            pack = new.pack,
            org = new.org,
            position = new.position,
            template_id = new.template_id,
            template_version = new.template_version,
            clauses = new.clauses_resolved,
            variables = new.variables_filled,
            document = new.document_id,
            render_pdf_s3 = new.render_pdf_s3,
            render_pdf_version = new.render_pdf_version,
            sha256 = new.render_pdf_sha256,
            hash_key = new.hash.key,
            hash_version = new.hash.version_id,
            page_count = new.page_count,
            boxes = new.signature_boxes,
            signers = new.signer_map,
            name = new.title,
        ),
    )
    .await?;
    Ok(())
}

/// Locks the document `doc`'s row until the caller's transaction ends; its envelope, if it
/// has one.
#[tracing::instrument(skip_all, fields(doc = %doc))]
pub async fn lock_instance(
    tx: &(impl Session + ?Sized),
    doc: Uuid,
) -> Result<Option<Uuid>, DbError> {
    Ok(tx
        .fetch_optional(
            "SELECT envelope_id FROM doc_instance WHERE doc_id = :id FOR UPDATE",
            params!(id = doc),
        )
        .await?
        .map(|row| row.get::<Option<Uuid>>("envelope_id"))
        .transpose()?
        .flatten())
}

/// Links the document `doc` to its envelope, with its signer map as issued (each signer's
/// recipient in it).
#[tracing::instrument(skip_all, fields(doc = %doc, envelope = %envelope))]
pub async fn set_envelope(
    tx: &(impl Session + ?Sized),
    doc: Uuid,
    envelope: Uuid,
    signer_map: &Value,
) -> Result<(), DbError> {
    tx.run(
        "UPDATE doc_instance SET envelope_id = :envelope, signer_map_json = :signers \
         WHERE doc_id = :id",
        params!(id = doc, envelope, signers = signer_map),
    )
    .await?;
    Ok(())
}

/// What a document's download reads: its generated PDF and its envelope.
#[derive(Debug)]
pub struct InstancePdf {
    /// The generated PDF, if it is stored.
    pub generated: Option<ObjectRef>,
    /// Its envelope, once issued.
    pub envelope_id: Option<Uuid>,
    /// Its envelope's state.
    pub envelope_status: PackEnvelopeStatus,
}

impl TryFrom<&Row> for InstancePdf {
    type Error = DbError;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            generated: row
                .get::<Option<String>>("pdf_s3_key")?
                .map(|key| -> Result<ObjectRef, DbError> {
                    Ok(ObjectRef {
                        key,
                        version_id: row.get("pdf_s3_version_id")?,
                    })
                })
                .transpose()?,
            envelope_id: row.get("envelope_id")?,
            envelope_status: row.stored("envelope_status")?,
        })
    }
}

/// The document `doc` of `pack`, as its download reads it.
#[tracing::instrument(skip_all, fields(pack = %pack, doc = %doc))]
pub async fn instance_pdf(
    client: &(impl Session + ?Sized),
    pack: Uuid,
    doc: Uuid,
) -> Result<Option<InstancePdf>, DbError> {
    client
        .fetch_optional(
            "SELECT d.pdf_s3_key, d.pdf_s3_version_id, i.envelope_id, i.envelope_status \
             FROM doc_instance i JOIN documents d ON d.id = i.document_id \
             WHERE i.pack_id = :id AND i.doc_id = :doc",
            params!(id = pack, doc),
        )
        .await?
        .as_ref()
        .map(InstancePdf::try_from)
        .transpose()
}
