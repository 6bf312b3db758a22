//! Document packs (seed 003's `doc_pack`, `doc_instance`, `doc_sign_event`): generate, list,
//! get, issue (one envelope per document), void, regenerate (the old pack superseded), and
//! each document's download.
//!
//! Generated PDFs are stored once, immutable, under the pack's prefix with their SHA-256 in
//! a file beside them (seed 003's S3 layout), and each is a ready document of the
//! organization, so the envelope, the signing worker, retention and legal hold treat it like
//! any other.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gsign_core::packs::{
    city_problem, signer_map_problems, PackEnvelopeStatus, PackStatus, Signer,
};
use gsign_core::FieldError;
use gsign_functions_envelopes::service::{CompletedDocuments, PackEnvelope, PackSigner};
use gsign_platform::database::{Session, Transaction};
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::pagination::{Page, PageRequest};
use gsign_platform::storage::{ObjectRef, Presigned};
use gsign_render::Rendered;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::DocPacksApi;
use crate::error::{from_envelopes, DocPacksCase, DocPacksError};
use crate::service::generate::{self, Plan};
use crate::store;

/// Largest `variables` object, in bytes of JSON.
const MAX_VARIABLES_BYTES: usize = 256 * 1024;

/// `POST /v1/doc-packs` body; on regenerate every member is optional (the old pack's
/// values are kept).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInput {
    /// The caller's reference (a deal or order id): one live pack per reference.
    #[serde(default)]
    reference: Option<String>,
    /// City code (gates).
    #[serde(default)]
    city: Option<String>,
    /// Template version ids, in order.
    #[serde(default)]
    templates: Option<Vec<Uuid>>,
    /// The values of the clauses' variables.
    #[serde(default)]
    variables: Option<Value>,
    /// Role -> `{name, email}`.
    #[serde(default)]
    signer_map: Option<BTreeMap<String, Signer>>,
}

/// `POST /v1/doc-packs/{id}/void` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocPackVoid")]
pub struct VoidInput {
    /// Why: kept on the pack and given as the reason its envelopes are voided.
    #[schemars(length(min = 1, max = 1000), pattern(r"\S"))]
    reason: String,
}

pub use crate::store::packs::Pack;

/// One document of a pack.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DocPackDocument")]
pub struct Instance {
    /// Id (`doc_id`).
    pub id: Uuid,
    /// Place in the pack.
    pub position: i32,
    /// Its title (the envelope's name).
    pub title: String,
    /// The template version.
    pub template_id: Uuid,
    /// Its version number.
    pub template_version: i32,
    /// The clause versions typeset.
    #[schemars(with = "Vec<generate::ResolvedClause>")]
    pub clauses_resolved: Value,
    /// Placeholder -> text, as typeset.
    #[schemars(with = "BTreeMap<String, String>")]
    pub variables_filled: Value,
    /// The generated PDF as a document (legal hold: `PUT /v1/documents/{id}/legal-hold`).
    pub document_id: Uuid,
    /// `s3://bucket/key` of the generated PDF.
    pub render_pdf_s3: String,
    /// Its SHA-256.
    pub render_pdf_sha256: String,
    /// Pages.
    pub page_count: i32,
    /// Where each role signs.
    #[schemars(with = "Vec<BoxJson>")]
    pub signature_boxes: Value,
    /// Its envelope, once issued.
    pub envelope_id: Option<Uuid>,
    /// Its envelope's state.
    pub envelope_status: PackEnvelopeStatus,
    /// Role -> signer (with the recipient id once issued).
    #[schemars(with = "BTreeMap<String, crate::service::schemas::IssuedSigner>")]
    pub signer_map: Value,
    /// Under legal hold.
    pub legal_hold: bool,
    /// What happened, oldest first.
    pub sign_events: Vec<SignEventView>,
}

/// One `doc_sign_event`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DocPackSignEvent")]
pub struct SignEventView {
    /// Id.
    pub id: Uuid,
    /// The signer role, or `sender`.
    pub actor_role: String,
    /// The user, when a person of the organization acted.
    pub actor_user_id: Option<String>,
    /// The signer's email.
    pub actor_email: Option<String>,
    /// `envelope_sent`, `viewed`, `signed`, `declined`, `voided`, `expired`.
    #[schemars(with = "gsign_core::packs::SignEvent")]
    pub event: String,
    /// The envelope evidence it came from.
    #[schemars(with = "crate::service::schemas::SignEventPayload")]
    pub provider_payload: Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl Instance {
    /// The document `row` with its sign events.
    fn new(row: store::packs::InstanceRow, sign_events: Vec<SignEventView>) -> Self {
        Self {
            id: row.id,
            position: row.position,
            title: row.title,
            template_id: row.template_id,
            template_version: row.template_version,
            clauses_resolved: row.clauses_resolved,
            variables_filled: row.variables_filled,
            document_id: row.document_id,
            render_pdf_s3: row.render_pdf_s3,
            render_pdf_sha256: row.render_pdf_sha256,
            page_count: row.page_count,
            signature_boxes: row.signature_boxes,
            envelope_id: row.envelope_id,
            envelope_status: row.envelope_status,
            signer_map: row.signer_map,
            legal_hold: row.legal_hold,
            sign_events,
        }
    }
}

impl From<store::packs::SignEventRow> for SignEventView {
    fn from(row: store::packs::SignEventRow) -> Self {
        Self {
            id: row.id,
            actor_role: row.actor_role,
            actor_user_id: row.actor_user_id,
            actor_email: row.actor_email,
            event: row.event,
            provider_payload: row.provider_payload,
            created_at: row.created_at,
        }
    }
}

/// A pack with its documents.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DocPackDetail")]
pub struct PackDetail {
    #[serde(flatten)]
    pack: Pack,
    /// Its documents, in order.
    documents: Vec<Instance>,
}

/// The checked values of a pack to generate.
struct Checked {
    reference: String,
    city: String,
    templates: Vec<Uuid>,
    variables: Value,
    signers: BTreeMap<String, Signer>,
}

impl Checked {
    /// What the pack's documents are planned from.
    fn request(&self) -> generate::Request<'_> {
        generate::Request {
            city: &self.city,
            templates: &self.templates,
            variables: &self.variables,
            signers: &self.signers,
        }
    }
}

/// One generated document: its plan, its typeset PDF, and that PDF and its hash file as
/// stored.
struct Generated<'a> {
    plan: &'a Plan,
    rendered: &'a Rendered,
    doc_id: Uuid,
    pdf: ObjectRef,
    hash: ObjectRef,
}

fn check(input: PackInput) -> Result<Checked, DocPacksError> {
    let mut errors = Vec::new();
    let reference = input.reference.unwrap_or_default().trim().to_owned();
    if reference.is_empty() || reference.chars().count() > 200 {
        errors.push(FieldError::new("/reference", "must be 1 to 200 characters"));
    }
    let city = input.city.unwrap_or_default().trim().to_owned();
    if let Some(problem) = city_problem(&city) {
        errors.push(FieldError::new("/city", problem));
    }
    let templates = input.templates.unwrap_or_default();
    if templates
        .iter()
        .enumerate()
        .any(|(i, t)| templates[..i].contains(t))
    {
        errors.push(FieldError::new("/templates", "lists a template twice"));
    }
    let variables = input.variables.unwrap_or_else(|| json!({}));
    if !variables.is_object() {
        errors.push(FieldError::new("/variables", "must be an object"));
    } else if serde_json::to_vec(&variables).map_or(0, |v| v.len()) > MAX_VARIABLES_BYTES {
        errors.push(FieldError::new(
            "/variables",
            format!("must be at most {MAX_VARIABLES_BYTES} bytes of JSON"),
        ));
    }
    let signers = signer_map_problems(
        &input.signer_map.unwrap_or_default(),
        "/signer_map",
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(DocPacksError::Validation(errors));
    }
    Ok(Checked {
        reference,
        city,
        templates,
        variables,
        signers,
    })
}

/// `GET /v1/doc-packs`' query: which page, and which packs.
#[derive(Debug, Clone)]
pub struct PackQuery {
    /// `limit` and `cursor`.
    pub page: PageRequest,
    /// `reference`: this reference only.
    pub reference: Option<String>,
    /// `status`: this state only.
    pub status: Option<PackStatus>,
}

impl DocPacksApi {
    /// The pack `id` of the caller's organization; `lock` takes its row lock.
    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn pack(
        client: &(impl Session + ?Sized),
        caller: &Caller,
        id: Uuid,
        lock: bool,
    ) -> Result<Pack, DocPacksError> {
        let pack = if lock {
            store::packs::get_for_update(client, caller.org, id).await?
        } else {
            store::packs::get(client, caller.org, id).await?
        };
        pack.ok_or(DocPacksError::NotFound("pack"))
    }

    /// The documents of `pack`, in order, each with its sign events.
    #[tracing::instrument(skip_all, fields(pack = %pack))]
    async fn instances(
        client: &(impl Session + ?Sized),
        pack: Uuid,
    ) -> Result<Vec<Instance>, DocPacksError> {
        let rows = store::packs::instances(client, pack).await?;
        let events = store::packs::sign_events(client, pack).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let sign_events = events
                    .iter()
                    .filter(|e| e.doc_id == row.id)
                    .cloned()
                    .map(SignEventView::from)
                    .collect();
                Instance::new(row, sign_events)
            })
            .collect())
    }

    /// `GET /v1/doc-packs/{id}`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn detail(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<PackDetail, DocPacksError> {
        let client = self.base().db.connect().await?;
        let pack = Self::pack(&client, caller, id, false).await?;
        let documents = Self::instances(&client, id).await?;
        Ok(PackDetail { pack, documents })
    }

    /// `GET /v1/doc-packs`: newest first; `reference` and `status` filter.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn list(
        &self,
        caller: &Caller,
        query: &PackQuery,
    ) -> Result<Page<Pack>, DocPacksError> {
        let page = query.page;
        let filter = store::packs::ListFilter {
            reference: query.reference.as_deref(),
            status: query.status,
            after: page.after,
        };
        let client = self.base().db.connect().await?;
        let mut rows = store::packs::list(&client, caller.org, &filter, page.fetch()).await?;
        let next_cursor = page.finish(&mut rows, |p| (p.created_at, p.id));
        Ok(Page {
            data: rows,
            next_cursor,
        })
    }

    /// `POST /v1/doc-packs`: checks, typesets and stores every document, then records the
    /// pack as a draft.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn generate(
        &self,
        caller: &Caller,
        input: PackInput,
    ) -> Result<PackDetail, DocPacksError> {
        let checked = check(input)?;
        self.generate_checked(caller, checked, None).await
    }

    /// Plans, typesets and stores the documents of `checked`, then records them as a draft
    /// pack (superseding the open pack `supersedes`, if any).
    #[tracing::instrument(skip_all)]
    async fn generate_checked(
        &self,
        caller: &Caller,
        checked: Checked,
        supersedes: Option<Uuid>,
    ) -> Result<PackDetail, DocPacksError> {
        let plans = Arc::new(self.plan_pack(caller, &checked, supersedes).await?);
        let rendered = typeset_plans(Arc::clone(&plans)).await?;
        let pack_id = Uuid::new_v4();
        let documents = self
            .store_documents(caller, pack_id, &plans, &rendered)
            .await?;
        let audit = self
            .record_pack(caller, pack_id, &checked, supersedes, &documents)
            .await?;
        self.base().relay.publish(&self.base().db, &[audit]).await;
        self.detail(caller, pack_id).await
    }

    /// The documents of `checked`, planned; a new pack (`supersedes` none) is refused while
    /// its reference has a live one.
    #[tracing::instrument(skip_all)]
    async fn plan_pack(
        &self,
        caller: &Caller,
        checked: &Checked,
        supersedes: Option<Uuid>,
    ) -> Result<Vec<Plan>, DocPacksError> {
        let client = self.base().db.connect().await?;
        if supersedes.is_none() {
            if let Some(live) = store::packs::live(&client, caller.org, &checked.reference).await? {
                return Err(DocPacksCase::ReferenceInUse(live).into());
            }
        }
        self.plan(&client, caller, &checked.request()).await
    }

    /// Stores each typeset PDF once, immutable, under the pack's prefix, with its SHA-256 in a
    /// file beside it.
    #[tracing::instrument(skip_all, fields(pack = %pack_id))]
    async fn store_documents<'a>(
        &self,
        caller: &Caller,
        pack_id: Uuid,
        plans: &'a [Plan],
        rendered: &'a [Rendered],
    ) -> Result<Vec<Generated<'a>>, DocPacksError> {
        let prefix = format!("packs/{}/{pack_id}", caller.org);
        let mut documents = Vec::new();
        for (plan, document) in plans.iter().zip(rendered) {
            let doc_id = Uuid::new_v4();
            let pdf = self
                .store()
                .put_bytes(
                    &format!("{prefix}/doc_{doc_id}_v1.pdf"),
                    document.pdf.clone(),
                    "application/pdf",
                )
                .await?;
            let hash = self
                .store()
                .put_bytes(
                    &format!("{prefix}/hash_{doc_id}.txt"),
                    format!("{}  doc_{doc_id}_v1.pdf\n", document.sha256).into_bytes(),
                    "text/plain; charset=utf-8",
                )
                .await?;
            documents.push(Generated {
                plan,
                rendered: document,
                doc_id,
                pdf,
                hash,
            });
        }
        Ok(documents)
    }

    /// Records the pack `pack_id` as a draft with its `documents`, in one transaction that
    /// first takes the old pack `supersedes` out of the live ones; the audit event to publish.
    #[tracing::instrument(skip_all, fields(pack = %pack_id))]
    async fn record_pack(
        &self,
        caller: &Caller,
        pack_id: Uuid,
        checked: &Checked,
        supersedes: Option<Uuid>,
        documents: &[Generated<'_>],
    ) -> Result<Uuid, DocPacksError> {
        let mut conn = self.base().db.connect().await?;
        let tx = conn.begin().await?;
        leave_the_live_ones(&tx, supersedes).await?;
        let created_by = created_by(caller);
        let new = new_pack(caller, pack_id, checked, &created_by);
        if let Err(err) = store::packs::insert(&tx, &new).await {
            if err.is_unique_violation() {
                drop(tx);
                let live = self.live_pack(caller, &checked.reference).await?;
                return Err(DocPacksCase::ReferenceInUse(live.unwrap_or_default()).into());
            }
            return Err(err.into());
        }
        self.record_documents(&tx, caller, pack_id, checked, documents)
            .await?;
        if let Some(old) = supersedes {
            store::packs::set_superseded_by(&tx, old, pack_id).await?;
        }
        let audit = outbox::audit(
            &tx,
            &caller.audit(
                "doc_pack.generated",
                "doc_pack",
                pack_id,
                generated_details(checked, supersedes, documents),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(audit)
    }

    /// The live pack of `reference` in the caller's organization, on a connection of its own.
    async fn live_pack(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> Result<Option<Uuid>, DocPacksError> {
        let client = self.base().db.connect().await?;
        Ok(store::packs::live(&client, caller.org, reference).await?)
    }

    /// Records each of the pack's `documents`, in order from position 1.
    async fn record_documents(
        &self,
        tx: &Transaction<'_>,
        caller: &Caller,
        pack_id: Uuid,
        checked: &Checked,
        documents: &[Generated<'_>],
    ) -> Result<(), DocPacksError> {
        for (position, document) in (1..).zip(documents) {
            record_document(
                tx,
                caller,
                pack_id,
                position,
                document,
                self.store().bucket(),
                &checked.signers,
            )
            .await?;
        }
        Ok(())
    }

    /// `POST /v1/doc-packs/{id}/issue`: one sequential envelope per document, the signers in
    /// the template's role order, each signing in their block. Safe to repeat: documents
    /// whose envelope exists are not given another, drafts left by a failure are sent.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn issue(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<PackDetail, DocPacksError> {
        let (pack, instances) = {
            let client = self.base().db.connect().await?;
            let pack = Self::pack(&client, caller, id, false).await?;
            (pack, Self::instances(&client, id).await?)
        };
        if !pack.status.is_open() {
            return Err(DocPacksCase::PackStatus(pack.status.to_string()).into());
        }
        for instance in &instances {
            let envelope = match instance.envelope_id {
                Some(envelope) => envelope,
                None => match self.create_envelope(caller, &pack, instance).await? {
                    Some(envelope) => envelope,
                    // Another issue of the same pack got there first.
                    None => continue,
                },
            };
            self.envelopes
                .send_pack_envelope(caller, envelope)
                .await
                .map_err(from_envelopes)?;
            self.catch_up(caller, envelope).await?;
        }
        let mut conn = self.base().db.connect().await?;
        let tx = conn.begin().await?;
        store::packs::mark_issued(&tx, id).await?;
        // Documents that completed before the pack was marked issued (an issue retried after
        // a failure) found it a draft; the pack is signed once all of them have.
        store::sign_if_all_completed(&tx, id).await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit("doc_pack.issued", "doc_pack", id, json!({})),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base().relay.publish(&self.base().db, &[audit]).await;
        self.detail(caller, id).await
    }

    /// The draft envelope of `instance`, linked to it in the same transaction; `None` if
    /// the document got one meanwhile.
    #[tracing::instrument(skip_all)]
    async fn create_envelope(
        &self,
        caller: &Caller,
        pack: &Pack,
        instance: &Instance,
    ) -> Result<Option<Uuid>, DocPacksError> {
        let signers: BTreeMap<String, Signer> = serde_json::from_value(pack.signer_map.clone())
            .map_err(|e| DocPacksError::Internal(e.into()))?;
        let spec = pack_envelope(pack, instance, &signers);
        let mut conn = self.base().db.connect().await?;
        let tx = conn.begin().await?;
        if store::packs::lock_instance(&tx, instance.id)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let draft = self
            .envelopes
            .create_pack_draft(&tx, caller, &spec)
            .await
            .map_err(from_envelopes)?;
        let mut map = serde_json::Map::new();
        for (role, recipient) in &draft.recipients {
            if let Some(signer) = signers.get(role) {
                map.insert(
                    role.clone(),
                    json!({"name": signer.name, "email": signer.email, "recipient_id": recipient}),
                );
            }
        }
        store::packs::set_envelope(&tx, instance.id, draft.envelope_id, &Value::Object(map))
            .await?;
        tx.commit().await?;
        Ok(Some(draft.envelope_id))
    }

    /// `POST /v1/doc-packs/{id}/void`: every envelope still out is voided, then the pack.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn void(
        &self,
        caller: &Caller,
        id: Uuid,
        input: VoidInput,
    ) -> Result<PackDetail, DocPacksError> {
        let reason = input.reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(DocPacksError::invalid(
                "/reason",
                "must be 1 to 1000 characters",
            ));
        }
        self.withdraw(caller, id, &reason).await?;
        let mut conn = self.base().db.connect().await?;
        let tx = conn.begin().await?;
        let pack = Self::pack(&tx, caller, id, true).await?;
        if !pack.status.is_open() {
            return Err(DocPacksCase::PackStatus(pack.status.to_string()).into());
        }
        store::packs::void(&tx, id, &reason).await?;
        let audit = outbox::audit(
            &tx,
            &caller.audit("doc_pack.voided", "doc_pack", id, json!({"reason": reason})),
        )
        .await?;
        tx.commit().await?;
        drop(conn);
        self.base().relay.publish(&self.base().db, &[audit]).await;
        self.detail(caller, id).await
    }

    /// Voids every envelope of an open pack that is still out (drafts never reached anyone).
    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn withdraw(&self, caller: &Caller, id: Uuid, reason: &str) -> Result<(), DocPacksError> {
        let (pack, instances) = {
            let client = self.base().db.connect().await?;
            (
                Self::pack(&client, caller, id, false).await?,
                Self::instances(&client, id).await?,
            )
        };
        if !pack.status.is_open() {
            return Err(DocPacksCase::PackStatus(pack.status.to_string()).into());
        }
        // Every envelope the pack has, not only those its documents show as sent: the
        // document follows its envelope asynchronously, and voiding one that is not out
        // (a draft, or one already finished) changes nothing.
        for envelope in instances.iter().filter_map(|i| i.envelope_id) {
            self.envelopes
                .void_pack_envelope(caller, envelope, reason)
                .await
                .map_err(from_envelopes)?;
            self.catch_up(caller, envelope).await?;
        }
        Ok(())
    }

    /// Applies what the pack's own send or void just announced, so its answer shows it
    /// (the announcements arrive later and change nothing more).
    #[tracing::instrument(skip_all, fields(envelope = %envelope))]
    async fn catch_up(&self, caller: &Caller, envelope: Uuid) -> Result<(), DocPacksError> {
        for event in self
            .envelopes
            .announced_events(caller.org, envelope)
            .await
            .map_err(from_envelopes)?
        {
            store::apply(&self.base().db, caller.org, &event).await?;
        }
        Ok(())
    }

    /// `POST /v1/doc-packs/{id}/regenerate`: a new draft pack from the old one's values
    /// (what the body gives replaces them); the old pack's envelopes are voided and it
    /// becomes `superseded`, in the transaction that records the new one.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn regenerate(
        &self,
        caller: &Caller,
        id: Uuid,
        input: PackInput,
    ) -> Result<PackDetail, DocPacksError> {
        if input.reference.is_some() {
            return Err(DocPacksError::invalid(
                "/reference",
                "is the old pack's; it cannot change",
            ));
        }
        let old = {
            let client = self.base().db.connect().await?;
            Self::pack(&client, caller, id, false).await?
        };
        if !old.status.is_open() {
            return Err(DocPacksCase::PackStatus(old.status.to_string()).into());
        }
        let checked = check(PackInput {
            reference: Some(old.reference.clone()),
            city: input.city.or(Some(old.city.clone())),
            templates: input
                .templates
                .or_else(|| serde_json::from_value(old.templates.clone()).ok()),
            variables: input.variables.or(Some(old.variables.clone())),
            signer_map: input
                .signer_map
                .or_else(|| serde_json::from_value(old.signer_map.clone()).ok()),
        })?;
        // Every problem of the new values is reported before the old pack's envelopes are
        // touched: a refused regeneration leaves the old pack as it was.
        {
            let client = self.base().db.connect().await?;
            self.plan(&client, caller, &checked.request()).await?;
        }
        self.withdraw(caller, id, "superseded by a regenerated pack")
            .await?;
        self.generate_checked(caller, checked, Some(id)).await
    }

    /// `GET /v1/doc-packs/{id}/instances/{doc_id}/download`: a short-lived link to the
    /// generated PDF (`variant=generated`, the default), or, once its envelope completed, the
    /// signed one (`signed`) or the certificate of completion (`certificate`).
    #[tracing::instrument(skip_all, fields(id = %id, doc = %doc))]
    pub(crate) async fn download(
        &self,
        caller: &Caller,
        id: Uuid,
        doc: Uuid,
        variant: &str,
    ) -> Result<Presigned, DocPacksError> {
        let client = self.base().db.connect().await?;
        Self::pack(&client, caller, id, false).await?;
        let instance = store::packs::instance_pdf(&client, id, doc)
            .await?
            .ok_or(DocPacksError::NotFound("document"))?;
        drop(client);
        let envelope = instance.envelope_id;
        let completed = || async {
            match envelope {
                Some(envelope) => self
                    .envelopes
                    .completed_documents(caller.org, envelope)
                    .await
                    .map_err(from_envelopes),
                None => Ok(CompletedDocuments::default()),
            }
        };
        let stored = match variant {
            "generated" => instance.generated,
            "signed" => completed().await?.final_pdf,
            "certificate" => completed().await?.certificate,
            _ => {
                return Err(DocPacksError::invalid(
                    "/variant",
                    "must be generated, signed or certificate",
                ))
            }
        };
        let Some(stored) = stored else {
            let status = instance.envelope_status;
            return Err(DocPacksCase::PackStatus(format!(
                "issued, and this document's envelope is {status}: the {variant} PDF does not exist yet"
            )).into());
        };
        Ok(self
            .store()
            .presign_get(
                &stored,
                "application/pdf",
                &format!("attachment; filename=\"doc-{doc}-{variant}.pdf\""),
                Duration::from_secs(300),
            )
            .await?)
    }
}

/// Typesets `plans` on a blocking thread; what the templates' Markdown does not allow is
/// the caller's problem, a typesetting failure the service's.
async fn typeset_plans(plans: Arc<Vec<Plan>>) -> Result<Vec<Rendered>, DocPacksError> {
    tokio::task::spawn_blocking(move || generate::typeset(&plans))
        .await
        .map_err(|e| DocPacksError::Internal(e.into()))?
        .map_err(|problem| match problem {
            gsign_render::RenderError::Typeset(reason) => {
                DocPacksError::Internal(anyhow::anyhow!("typesetting failed: {reason}"))
            }
            other => DocPacksError::invalid("/templates", other.to_string()),
        })
}

/// The envelope of `instance`: its PDF, named after it and the pack, each role of `signers`
/// signing in its block.
fn pack_envelope(
    pack: &Pack,
    instance: &Instance,
    signers: &BTreeMap<String, Signer>,
) -> PackEnvelope {
    let boxes: Vec<gsign_render::SignatureBox> =
        serde_json::from_value::<Vec<BoxJson>>(instance.signature_boxes.clone())
            .unwrap_or_default()
            .into_iter()
            .map(BoxJson::into_box)
            .collect();
    PackEnvelope {
        document_id: instance.document_id,
        name: format!("{} ({})", instance.title, pack.reference)
            .chars()
            .take(255)
            .collect(),
        message: None,
        signers: boxes
            .iter()
            .filter_map(|b| {
                let signer = signers.get(&b.role)?;
                Some(PackSigner {
                    role: b.role.clone(),
                    name: signer.name.clone(),
                    email: signer.email.clone(),
                    signature_box: (
                        i32::try_from(b.page).unwrap_or(1),
                        b.x,
                        b.y,
                        b.width,
                        b.height,
                    ),
                })
            })
            .collect(),
    }
}

/// A signature box as stored.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "DocPackSignatureBox")]
struct BoxJson {
    /// The signer role that signs there.
    role: String,
    /// The page, from 1.
    page: u32,
    /// From the page's left edge, in points.
    x: f64,
    /// From the page's top edge, in points.
    y: f64,
    /// Width in points.
    width: f64,
    /// Height in points.
    height: f64,
}

impl BoxJson {
    fn into_box(self) -> gsign_render::SignatureBox {
        gsign_render::SignatureBox {
            role: self.role,
            page: self.page,
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
        }
    }
}

/// The old pack `supersedes` leaves the live ones before the new one joins them (one live
/// pack per reference); only if nobody else superseded or voided it meanwhile.
async fn leave_the_live_ones(
    tx: &Transaction<'_>,
    supersedes: Option<Uuid>,
) -> Result<(), DocPacksError> {
    if let Some(old) = supersedes {
        if !store::packs::supersede(tx, old).await? {
            return Err(DocPacksCase::PackStatus("no longer open".to_owned()).into());
        }
    }
    Ok(())
}

/// Who creates what `caller` does: the user, else the API key (as text).
fn created_by(caller: &Caller) -> String {
    caller
        .user
        .or(caller.api_key)
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// The row of the pack `pack_id` generated from `checked`.
fn new_pack<'a>(
    caller: &Caller,
    pack_id: Uuid,
    checked: &'a Checked,
    created_by: &'a str,
) -> store::packs::NewPack<'a> {
    store::packs::NewPack {
        id: pack_id,
        org: caller.org,
        reference: &checked.reference,
        generator_ver: gsign_render::GENERATOR_VERSION,
        city: &checked.city,
        templates: json!(checked.templates),
        variables: &checked.variables,
        signer_map: json!(checked.signers),
        created_by,
    }
}

/// The details of a pack's `doc_pack.generated` audit event.
fn generated_details(
    checked: &Checked,
    supersedes: Option<Uuid>,
    documents: &[Generated<'_>],
) -> Value {
    json!({"reference": checked.reference, "documents": documents.len(), "supersedes": supersedes,
           "sha256": documents.iter().map(|d| d.rendered.sha256.clone()).collect::<Vec<_>>()})
}

/// Records one generated document: as a ready document of the organization (hashed, its
/// pages known) and as the pack's instance.
#[tracing::instrument(skip_all, fields(pack = %pack, doc_id = %document.doc_id))]
async fn record_document(
    tx: &Transaction<'_>,
    caller: &Caller,
    pack: Uuid,
    position: i32,
    document: &Generated<'_>,
    bucket: &str,
    signers: &BTreeMap<String, Signer>,
) -> Result<(), DocPacksError> {
    let Generated {
        plan,
        rendered,
        doc_id,
        pdf,
        hash,
    } = document;
    let name: String = plan.document.title.chars().take(250).collect();
    let original_name = format!("doc_{doc_id}_v1.pdf");
    let page_count = i32::try_from(rendered.pages).unwrap_or(i32::MAX);
    let new = new_document(caller, pack, document, &name, &original_name, page_count);
    let document_id = store::packs::insert_document(tx, &new).await?;
    store::packs::insert_instance(
        tx,
        &store::packs::NewInstance {
            doc_id: *doc_id,
            pack,
            org: caller.org,
            position,
            template_id: plan.template.id,
            template_version: plan.template.version,
            clauses_resolved: json!(plan.clauses),
            variables_filled: json!(plan.document.variables),
            document_id,
            render_pdf_s3: format!("s3://{bucket}/{}", pdf.key),
            render_pdf_version: pdf.version_id.as_deref(),
            render_pdf_sha256: &rendered.sha256,
            hash,
            page_count,
            signature_boxes: json!(signature_boxes(rendered)),
            signer_map: json!(document_signers(plan, signers)),
            title: &name,
        },
    )
    .await?;
    Ok(())
}

/// The row of `document` as a ready document of the organization.
fn new_document<'a>(
    caller: &Caller,
    pack: Uuid,
    document: &'a Generated<'_>,
    name: &'a str,
    original_name: &'a str,
    page_count: i32,
) -> store::packs::NewDocument<'a> {
    let Generated {
        rendered,
        doc_id,
        pdf,
        ..
    } = document;
    store::packs::NewDocument {
        org: caller.org,
        user: caller.user,
        api_key: caller.api_key,
        name,
        original_name,
        size: i64::try_from(rendered.pdf.len()).unwrap_or(i64::MAX),
        page_count,
        pages: page_sizes(rendered),
        pdf,
        sha256: &rendered.sha256,
        metadata: json!({"doc_pack": pack, "doc_id": doc_id}),
    }
}

/// Each page's size, as stored with a document.
fn page_sizes(rendered: &Rendered) -> Value {
    let pages: Vec<Value> = rendered
        .page_sizes
        .iter()
        .map(|(w, h)| json!({"width": w, "height": h, "rotation": 0}))
        .collect();
    Value::Array(pages)
}

/// Where each role signs in the typeset document, as stored.
fn signature_boxes(rendered: &Rendered) -> Vec<BoxJson> {
    rendered
        .signature_boxes
        .iter()
        .map(|b| BoxJson {
            role: b.role.clone(),
            page: b.page,
            x: b.x,
            y: b.y,
            width: b.width,
            height: b.height,
        })
        .collect()
}

/// The signers of the document's roles.
fn document_signers<'a>(
    plan: &'a Plan,
    signers: &'a BTreeMap<String, Signer>,
) -> BTreeMap<&'a String, &'a Signer> {
    plan.roles
        .iter()
        .filter_map(|role| signers.get_key_value(role))
        .collect()
}
