//! The sender's draft routes: `POST|GET /v1/envelopes`, `GET|PATCH|DELETE /v1/envelopes/{id}`,
//! `POST /v1/envelopes/{id}/recipients`, `PUT|DELETE /v1/envelopes/{id}/recipients/{recipient_id}`,
//! `PUT /v1/envelopes/{id}/fields` and `GET /v1/envelopes/{id}/events`.
//!
//! Every change holds the envelope's row lock and appends its evidence event (hash-chained)
//! in the same transaction. Every query is scoped to the caller's organization.

use chrono::{DateTime, Duration, Utc};
use gsign_core::documents::DocumentStatus;
use gsign_core::envelopes::{
    field_problems, send_problems, verify_chain, ChainVerdict, ChainedEvent, DocumentFacts,
    EnvelopeStatus, FieldInput, NewRecipient, RecipientInput, RoutingType, MAX_FIELDS,
    MAX_RECIPIENTS,
};
use gsign_core::FieldError;
use gsign_platform::database::DbError;
use gsign_platform::http::Caller;
use gsign_platform::pagination::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::EnvelopesError;
use crate::service::EnvelopesApi;
use crate::store::{self, DraftValues, Envelope, Field, Recipient};

/// `POST /v1/envelopes` and `PATCH /v1/envelopes/{id}` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "document_id": "0193f4c2-7d1e-7a35-9b1c-3f2a6c8d9e01",
    "name": "Office lease 2027",
    "subject": "Please sign the office lease",
    "message": "Both parties sign; the director approves after.",
    "routing_type": "sequential",
    "reminder_enabled": true,
    "reminder_interval_days": 3,
    "language": "mn",
}))]
pub struct EnvelopeInput {
    /// The document to sign: required on create, refused on update.
    #[serde(default)]
    document_id: Option<Uuid>,
    /// The envelope's name: 1 to 255 characters.
    #[serde(default)]
    name: Option<String>,
    /// The signing request's subject: 1 to 255 characters.
    #[serde(default)]
    subject: Option<String>,
    /// A message to the recipients: 1 to 10,000 characters; with PATCH, `null` removes it
    /// (left out: unchanged).
    #[serde(default, with = "gsign_core::patch::double_option")]
    #[schemars(with = "Option<String>")]
    message: Option<Option<String>>,
    /// `sequential` (by routing order) or `parallel`.
    #[serde(default)]
    routing_type: Option<RoutingType>,
    /// When it expires unless completed: within the next 365 days.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    /// Whether recipients who have not acted are reminded.
    #[serde(default)]
    reminder_enabled: Option<bool>,
    /// Days between reminders: 1 to 30.
    #[serde(default)]
    #[schemars(range(min = 1, max = 30))]
    reminder_interval_days: Option<i32>,
    /// Reminders per recipient at most: 0 to 10.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    reminder_max: Option<i32>,
    /// The PAdES level: `b_lta` (the default: every signature timestamped, and at completion
    /// the validation data and a document timestamp that keep them verifiable after their
    /// certificates expire), `b_lt` (the validation data without the document timestamp),
    /// `b_t` (timestamped signatures) or `b_b` (no timestamp).
    #[serde(default)]
    #[schemars(extend("enum" = ["b_lta", "b_lt", "b_t", "b_b", null]))]
    signature_level: Option<String>,
    /// The signing pages' language: `en` or `mn`; `null` (or none given): each recipient's
    /// browser's. With PATCH, `null` goes back to the browser's (left out: unchanged).
    #[serde(default, with = "gsign_core::patch::double_option")]
    #[schemars(with = "Option<String>", extend("enum" = ["en", "mn", null]))]
    language: Option<Option<String>>,
}

impl EnvelopeInput {
    /// Checks every value, reporting every problem at once.
    fn values(&self, now: DateTime<Utc>) -> Result<DraftValues, EnvelopesError> {
        let mut errors = Vec::new();
        let name = text(self.name.as_deref(), "/name", 255, &mut errors);
        let subject = text(self.subject.as_deref(), "/subject", 255, &mut errors);
        let message = text(
            self.message.clone().flatten().as_deref(),
            "/message",
            10_000,
            &mut errors,
        );
        self.settings_problems(now, &mut errors);
        if !errors.is_empty() {
            return Err(EnvelopesError::Validation(errors));
        }
        Ok(DraftValues {
            name,
            subject,
            message,
            routing_type: self.routing_type.map(|r| r.as_str().to_owned()),
            expires_at: self.expires_at,
            reminder_enabled: self.reminder_enabled,
            reminder_interval_days: self.reminder_interval_days,
            reminder_max: self.reminder_max,
            signature_level: self.signature_level.clone(),
            language: self.language.clone().flatten(),
            clear_message: self.message == Some(None),
            clear_language: self.language == Some(None),
        })
    }

    /// Checks the expiry, the reminders, the signature level and the language, adding each
    /// problem to `errors`.
    fn settings_problems(&self, now: DateTime<Utc>, errors: &mut Vec<FieldError>) {
        if let Some(at) = self.expires_at {
            if at <= now || at > now + Duration::days(365) {
                errors.push(FieldError::new(
                    "/expires_at",
                    "must be within the next 365 days",
                ));
            }
        }
        if self
            .reminder_interval_days
            .is_some_and(|d| !(1..=30).contains(&d))
        {
            errors.push(FieldError::new(
                "/reminder_interval_days",
                "must be 1 to 30",
            ));
        }
        if self.reminder_max.is_some_and(|m| !(0..=10).contains(&m)) {
            errors.push(FieldError::new("/reminder_max", "must be 0 to 10"));
        }
        if self
            .signature_level
            .as_deref()
            .is_some_and(|l| !matches!(l, "b_lta" | "b_lt" | "b_t" | "b_b"))
        {
            errors.push(FieldError::new(
                "/signature_level",
                "must be b_lta, b_lt, b_t or b_b",
            ));
        }
        if self
            .language
            .as_ref()
            .and_then(Option::as_deref)
            .is_some_and(|l| !matches!(l, "en" | "mn"))
        {
            errors.push(FieldError::new("/language", "must be en or mn"));
        }
    }
}

/// A text value, trimmed, if it has 1 to `max` characters; else its problem is added to
/// `errors`.
fn text(
    value: Option<&str>,
    pointer: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = value.map(str::trim)?;
    if value.is_empty() || value.chars().count() > max {
        errors.push(FieldError::new(
            pointer,
            format!("must be 1 to {max} characters"),
        ));
        return None;
    }
    Some(value.to_owned())
}

/// `PUT /v1/envelopes/{id}/fields` body: every field of the envelope (the list replaces the
/// previous one).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"fields": [
    {"recipient_id": "0193f4c2-8a40-7c11-a2b3-5d6e7f809a12", "type": "signature", "page": 3,
     "x": 72.0, "y": 640.0, "width": 180.0, "height": 48.0},
    {"recipient_id": "0193f4c2-8a40-7c11-a2b3-5d6e7f809a12", "type": "date", "page": 3,
     "x": 300.0, "y": 664.0, "width": 110.0, "height": 24.0, "required": true},
]}))]
pub struct FieldsInput {
    /// Every field of the draft (the ones before are replaced).
    fields: Vec<FieldInput>,
}

/// An envelope with its recipients, fields and, for a draft, what still stands in the way
/// of sending it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EnvelopeDetail {
    #[serde(flatten)]
    envelope: Envelope,
    /// Its recipients.
    recipients: Vec<Recipient>,
    /// Its fields.
    fields: Vec<Field>,
    /// A draft's problems, empty when it can be sent; `null` once sent.
    send_problems: Option<Vec<FieldError>>,
}

/// `GET /v1/envelopes/{id}/events` answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "EnvelopeEvidence")]
pub struct Evidence {
    /// Whether the hash chain verifies.
    chain: ChainVerdict,
    /// The events, in sequence order.
    events: Vec<ChainedEvent>,
}

/// `GET /v1/envelopes`' query, checked: which page and which envelopes.
#[derive(Debug, Clone)]
pub struct EnvelopeQuery {
    /// `limit` and `cursor`.
    pub page: PageRequest,
    /// Only envelopes in this state.
    pub status: Option<EnvelopeStatus>,
    /// Only envelopes of this document.
    pub document_id: Option<Uuid>,
    /// Only envelopes waiting for this member to act (`waiting_for=me`).
    pub waiting_for: Option<Uuid>,
}

impl EnvelopesApi {
    /// `POST /v1/envelopes`: a draft on one of the organization's ready documents.
    #[tracing::instrument(skip_all)]
    pub async fn create(
        &self,
        caller: &Caller,
        input: EnvelopeInput,
    ) -> Result<EnvelopeDetail, EnvelopesError> {
        let document = input
            .document_id
            .ok_or_else(|| EnvelopesError::invalid("/document_id", "is required"))?;
        let values = input.values(Utc::now())?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        if !store::document_exists(&tx, caller.org, document).await? {
            return Err(EnvelopesError::invalid(
                "/document_id",
                "no such document in your organization",
            ));
        }
        let envelope = store::insert(
            &tx,
            caller.org,
            (caller.user, caller.api_key),
            document,
            &values,
        )
        .await?;
        store::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                envelope.id,
                "envelope.created",
                None,
                serde_json::json!({"document_id": document}),
            ),
        )
        .await?;
        tx.commit().await?;
        self.detail(caller, envelope.id).await
    }

    /// `GET /v1/envelopes/{id}`: the envelope, its recipients and fields, and a draft's send problems.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn detail(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<EnvelopeDetail, EnvelopesError> {
        let client = self.base.db.connect().await?;
        let envelope = store::get(&client, caller.org, id, false)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        let recipients = store::recipients(&client, id).await?;
        let fields = store::fields(&client, id).await?;
        let send_problems = if envelope.status == EnvelopeStatus::Draft {
            let document = store::document_facts(&client, envelope.document_id).await?;
            let mut problems = send_problems(
                &document,
                &recipients.iter().map(Recipient::facts).collect::<Vec<_>>(),
                &fields.iter().map(Field::facts).collect::<Vec<_>>(),
            );
            problems.extend(
                crate::service::mail::recipient_suppression_problems(
                    &client,
                    caller.org,
                    &recipients,
                )
                .await?,
            );
            Some(problems)
        } else {
            None
        };
        Ok(EnvelopeDetail {
            envelope,
            recipients,
            fields,
            send_problems,
        })
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn list(
        &self,
        caller: &Caller,
        query: EnvelopeQuery,
    ) -> Result<Page<Envelope>, EnvelopesError> {
        let page = query.page;
        let client = self.base.db.connect().await?;
        let filter = store::ListFilter {
            status: query.status,
            document_id: query.document_id,
            after: page.after,
            waiting_for: query.waiting_for,
        };
        let mut rows = store::list(&client, caller.org, &filter, page.fetch()).await?;
        let next_cursor = page.finish(&mut rows, |e| (e.created_at, e.id));
        Ok(Page {
            data: rows,
            next_cursor,
        })
    }

    /// How many envelopes are in each state, and how many wait for the caller.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn counts(
        &self,
        caller: &Caller,
    ) -> Result<store::EnvelopeCounts, EnvelopesError> {
        let client = self.base.db.connect().await?;
        Ok(store::counts(&client, caller.org, caller.user).await?)
    }

    /// `PATCH /v1/envelopes/{id}`: a draft's subject, message, routing and expiry.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        input: EnvelopeInput,
    ) -> Result<EnvelopeDetail, EnvelopesError> {
        if input.document_id.is_some() {
            return Err(EnvelopesError::invalid(
                "/document_id",
                "cannot change; create another envelope",
            ));
        }
        let values = input.values(Utc::now())?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        Self::draft(&tx, caller, id).await?;
        store::update(&tx, id, &values).await?;
        store::record(
            &tx,
            caller.org,
            Self::event(caller, id, "envelope.updated", None, serde_json::json!({})),
        )
        .await?;
        tx.commit().await?;
        self.detail(caller, id).await
    }

    /// `DELETE /v1/envelopes/{id}`: deletes a draft.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), EnvelopesError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        Self::draft(&tx, caller, id).await?;
        store::delete(&tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `POST /v1/envelopes/{id}/recipients`: a recipient of a draft.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn add_recipient(
        &self,
        caller: &Caller,
        id: Uuid,
        input: RecipientInput,
    ) -> Result<Recipient, EnvelopesError> {
        let mut errors = Vec::new();
        let new = NewRecipient::parse(input, "", &mut errors)
            .ok_or(EnvelopesError::Validation(errors))?;
        let code_hash = access_code_hash(&new)?;
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        Self::draft(&tx, caller, id).await?;
        if store::recipients(&tx, id).await?.len() >= MAX_RECIPIENTS {
            return Err(EnvelopesError::invalid(
                "",
                format!("an envelope has at most {MAX_RECIPIENTS} recipients"),
            ));
        }
        let recipient = store::insert_recipient(&tx, caller.org, id, &new, code_hash.as_deref())
            .await
            .map_err(duplicate_recipient)?;
        store::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                id,
                "recipient.added",
                Some(recipient.id),
                recipient.evidence(),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(recipient)
    }

    #[tracing::instrument(skip_all, fields(id = %id, recipient = %recipient))]
    pub(crate) async fn update_recipient(
        &self,
        caller: &Caller,
        id: Uuid,
        recipient: Uuid,
        input: RecipientInput,
    ) -> Result<Recipient, EnvelopesError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        Self::draft(&tx, caller, id).await?;
        let code_stored = store::has_access_code(&tx, id, recipient)
            .await?
            .ok_or(EnvelopesError::NotFound("recipient"))?;
        let mut errors = Vec::new();
        let new = NewRecipient::parse_replacement(input, "", &mut errors, code_stored)
            .ok_or(EnvelopesError::Validation(errors))?;
        let code_hash = access_code_hash(&new)?;
        let updated = store::update_recipient(&tx, id, recipient, &new, code_hash.as_deref())
            .await
            .map_err(duplicate_recipient)?
            .ok_or(EnvelopesError::NotFound("recipient"))?;
        store::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                id,
                "recipient.updated",
                Some(recipient),
                updated.evidence(),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    #[tracing::instrument(skip_all, fields(id = %id, recipient = %recipient))]
    pub(crate) async fn remove_recipient(
        &self,
        caller: &Caller,
        id: Uuid,
        recipient: Uuid,
    ) -> Result<(), EnvelopesError> {
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        Self::draft(&tx, caller, id).await?;
        if !store::delete_recipient(&tx, id, recipient).await? {
            return Err(EnvelopesError::NotFound("recipient"));
        }
        store::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                id,
                "recipient.removed",
                Some(recipient),
                serde_json::json!({}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `PUT /v1/envelopes/{id}/fields`: replaces a draft's fields, each inside its page.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn set_fields(
        &self,
        caller: &Caller,
        id: Uuid,
        input: FieldsInput,
    ) -> Result<Vec<Field>, EnvelopesError> {
        let mut errors = field_list_problems(&input.fields);
        let mut conn = self.base.db.connect().await?;
        let tx = conn.begin().await?;
        let envelope = Self::draft(&tx, caller, id).await?;
        let recipients = store::recipients(&tx, id).await?;
        recipient_problems(&input.fields, &recipients, &mut errors);
        // Pages are known now: a field off its page is refused here already, not only at send.
        let document = store::document_facts(&tx, envelope.document_id).await?;
        if document.status == DocumentStatus::Ready {
            page_problems(&input.fields, &document, &mut errors);
        }
        if !errors.is_empty() {
            return Err(EnvelopesError::Validation(errors));
        }
        store::replace_fields(&tx, id, &input.fields).await?;
        store::record(
            &tx,
            caller.org,
            Self::event(
                caller,
                id,
                "fields.set",
                None,
                serde_json::json!({"count": input.fields.len()}),
            ),
        )
        .await?;
        let fields = store::fields(&tx, id).await?;
        tx.commit().await?;
        Ok(fields)
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn events(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Evidence, EnvelopesError> {
        let client = self.base.db.connect().await?;
        store::get(&client, caller.org, id, false)
            .await?
            .ok_or(EnvelopesError::NotFound("envelope"))?;
        let events = store::events(&client, id).await?;
        Ok(Evidence {
            chain: verify_chain(&events),
            events,
        })
    }
}

/// The problems of a field list on its own: too many fields, and each field's.
fn field_list_problems(fields: &[FieldInput]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if fields.len() > MAX_FIELDS {
        errors.push(FieldError::new(
            "/fields",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    for (i, field) in fields.iter().enumerate() {
        field_problems(field, &format!("/fields/{i}"), &mut errors);
    }
    errors
}

/// Adds a problem to `errors` for each field whose recipient is not one of `recipients`.
fn recipient_problems(
    fields: &[FieldInput],
    recipients: &[Recipient],
    errors: &mut Vec<FieldError>,
) {
    for (i, field) in fields.iter().enumerate() {
        if !recipients.iter().any(|r| r.id == field.recipient_id) {
            errors.push(FieldError::new(
                format!("/fields/{i}/recipient_id"),
                "is not a recipient of this envelope",
            ));
        }
    }
}

/// Adds a problem to `errors` for each field on a page the ready `document` does not have,
/// or outside its page.
fn page_problems(fields: &[FieldInput], document: &DocumentFacts, errors: &mut Vec<FieldError>) {
    for (i, field) in fields.iter().enumerate() {
        let page = usize::try_from(field.page.saturating_sub(1))
            .ok()
            .and_then(|p| document.pages.get(p));
        match page {
            None if field.page >= 1 => errors.push(FieldError::new(
                format!("/fields/{i}/page"),
                format!("the document has {} pages", document.pages.len()),
            )),
            Some(&(w, h))
                if field.x + field.width > w + 0.01 || field.y + field.height > h + 0.01 =>
            {
                errors.push(FieldError::new(
                    format!("/fields/{i}"),
                    format!("lies outside page {} ({w} x {h} points)", field.page),
                ))
            }
            _ => {}
        }
    }
}

/// The access code's Argon2id hash, when the recipient needs one.
fn access_code_hash(new: &NewRecipient) -> Result<Option<String>, EnvelopesError> {
    new.access_code
        .as_ref()
        .map(|code| {
            gsign_platform::credentials::hash_password(&secrecy::SecretString::from(code.clone()))
                .map_err(|e| EnvelopesError::Internal(anyhow::anyhow!("hash an access code: {e}")))
        })
        .transpose()
}

/// A second recipient with the same address and role is a 422, not a 500.
fn duplicate_recipient(err: DbError) -> EnvelopesError {
    if err.is_unique_violation() {
        return EnvelopesError::invalid(
            "/email",
            "this envelope already has a recipient with this address and role",
        );
    }
    err.into()
}
