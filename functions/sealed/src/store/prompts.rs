//! The `prompts` table: a prompt's text (up to 4 MiB) comes inline only when small and is
//! read in slices otherwise.

use chrono::{DateTime, Utc};
use gsign_platform::database::{read_in_slices, DbError, Row, Session};
use gsign_platform::params;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A prompt.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Prompt {
    /// Id.
    pub id: Uuid,
    /// The text.
    pub prompt_text: String,
    /// Free metadata (a JSON object), or `null`.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub prompt_metadata: Option<Value>,
    /// SHA-256 of the text, hex.
    pub secret_hash: String,
    /// `active`, `archived`.
    pub status: String,
    /// Optimistic-locking version: send it back to update.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: Option<String>,
    /// Who changed it last.
    pub updated_by: Option<String>,
}

impl TryFrom<&Row> for Prompt {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get("id")?,
            prompt_text: row
                .get::<Option<String>>("prompt_text")?
                .unwrap_or_default(),
            prompt_metadata: row.get("prompt_metadata")?,
            secret_hash: row.get("secret_hash")?,
            status: row.get("status")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            created_by: row.get("created_by")?,
            updated_by: row.get("updated_by")?,
        })
    }
}

const COLUMNS: &str = "id, CASE WHEN octet_length(prompt_text) <= 8192 THEN prompt_text END \
    AS prompt_text, prompt_metadata, secret_hash, status, version, \
    created_at, updated_at, created_by, updated_by";

/// The prompts of `rows`, a long text read apart: up to [`sealed::MAX_PAYLOAD_BYTES`], it may
/// not fit a Data API row (64 KB), so [`COLUMNS`] gives it inline only when small.
async fn prompts(client: &(impl Session + ?Sized), rows: &[Row]) -> Result<Vec<Prompt>, DbError> {
    let mut prompts = Vec::with_capacity(rows.len());
    for row in rows {
        let mut prompt = Prompt::try_from(row)?;
        if row.get::<Option<String>>("prompt_text")?.is_none() {
            prompt.prompt_text = read_in_slices(
                client,
                "prompt_text",
                "prompts WHERE id = :id",
                params!(id = prompt.id),
            )
            .await?;
        }
        prompts.push(prompt);
    }
    Ok(prompts)
}

/// A prompt to create.
pub struct NewPrompt<'a> {
    /// The organization.
    pub org: Uuid,
    /// The text.
    pub text: &'a str,
    /// Free metadata.
    pub metadata: Option<&'a Value>,
    /// SHA-256 of the text, hex.
    pub hash: &'a str,
    /// `active` when absent.
    pub status: Option<&'a str>,
    /// Who.
    pub actor: &'a str,
}

/// Creates `new`.
#[tracing::instrument(skip_all, fields(org = %new.org))]
pub async fn insert(
    client: &(impl Session + ?Sized),
    new: &NewPrompt<'_>,
) -> Result<Prompt, DbError> {
    let row = client
        .fetch_one(
            &format!(
                "INSERT INTO prompts (organization_id, prompt_text, prompt_metadata, secret_hash, status, created_by, updated_by) \
                 VALUES (:org, :text, :metadata::jsonb, :hash, COALESCE(:status::text, 'active'), :actor, :actor) \
                 RETURNING {COLUMNS}"
            ),
            params!(
                org = new.org,
                text = new.text,
                metadata = new.metadata.cloned(),
                hash = new.hash,
                status = new.status,
                actor = new.actor,
            ),
        )
        .await?;
    Ok(prompts(client, std::slice::from_ref(&row)).await?.remove(0))
}

/// The organization's live prompt `id`.
#[tracing::instrument(skip_all, fields(org = %org, id = %id))]
pub async fn get(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
) -> Result<Option<Prompt>, DbError> {
    let Some(row) = client
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM prompts WHERE organization_id = :org AND id = :id AND deleted_at IS NULL"),
            params!(org, id),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(prompts(client, &[row]).await?.pop())
}

/// A page of the organization's live prompts, newest first; `status` and `words` (of the
/// text) filter.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn list(
    client: &(impl Session + ?Sized),
    org: Uuid,
    status: Option<&str>,
    words: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Prompt>, DbError> {
    let (after_t, after_id) = after.unzip();
    let rows = client
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM prompts WHERE organization_id = :org AND deleted_at IS NULL \
                 AND (:status::text IS NULL OR status = :status) \
                 AND (:words::text IS NULL \
                      OR to_tsvector('simple', prompt_text) @@ plainto_tsquery('simple', :words)) \
                 AND (:after_t::timestamptz IS NULL \
                      OR (created_at, id) < (:after_t::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params!(org, status, words, after_t, after_id, limit),
        )
        .await?;
    prompts(client, &rows).await
}

/// A change to a prompt at `version` (absent fields keep their value).
pub struct PromptChange<'a> {
    /// The organization.
    pub org: Uuid,
    /// The prompt.
    pub id: Uuid,
    /// The version read.
    pub version: i32,
    /// A new text.
    pub text: Option<&'a str>,
    /// New metadata.
    pub metadata: Option<&'a Value>,
    /// A new status.
    pub status: Option<&'a str>,
    /// The new text's hash.
    pub hash: Option<&'a str>,
    /// Who.
    pub actor: &'a str,
}

/// Applies `change` if the prompt is still at its version; the prompt changed.
#[tracing::instrument(skip_all, fields(id = %change.id))]
pub async fn update(
    client: &(impl Session + ?Sized),
    change: &PromptChange<'_>,
) -> Result<Option<Prompt>, DbError> {
    let Some(row) = client
        .fetch_optional(
            &format!(
                "UPDATE prompts SET prompt_text = COALESCE(:text::text, prompt_text), \
                 prompt_metadata = COALESCE(:metadata::jsonb, prompt_metadata), \
                 status = COALESCE(:status::text, status), \
                 secret_hash = COALESCE(:hash::text, secret_hash), version = version + 1, \
                 updated_by = :actor \
                 WHERE organization_id = :org AND id = :id AND version = :version \
                 AND deleted_at IS NULL RETURNING {COLUMNS}"
            ),
            params!(
                org = change.org,
                id = change.id,
                version = change.version,
                text = change.text,
                metadata = change.metadata.cloned(),
                status = change.status,
                hash = change.hash,
                actor = change.actor,
            ),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(prompts(client, std::slice::from_ref(&row)).await?.pop())
}

/// The live prompt's current version.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn version(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
) -> Result<Option<i32>, DbError> {
    client
        .fetch_optional(
            "SELECT version FROM prompts WHERE organization_id = :org AND id = :id \
             AND deleted_at IS NULL",
            params!(org, id),
        )
        .await?
        .map(|row| row.get("version"))
        .transpose()
}

/// Soft-deletes the live prompt; how many rows (0 or 1).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn soft_delete(
    client: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
    actor: &str,
) -> Result<u64, DbError> {
    client
        .run(
            "UPDATE prompts SET deleted_at = now(), status = 'deleted', updated_by = :actor \
             WHERE organization_id = :org AND id = :id AND deleted_at IS NULL",
            params!(org, id, actor),
        )
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn texts_come_inline_only_as_large_as_the_port_allows() {
        assert!(super::COLUMNS.contains(&format!(
            "<= {} THEN",
            gsign_platform::database::INLINE_VALUE_BYTES
        )));
    }
}
