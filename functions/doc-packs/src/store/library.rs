//! The `doc_clause` and `doc_template` tables: one row per version, its content inline only
//! when small and read in slices otherwise.

use chrono::{DateTime, Utc};
use gsign_core::packs::Gate;
use gsign_platform::database::{
    json_list, read_in_slices, DbError, Row, Session, INLINE_VALUE_BYTES,
};
use gsign_platform::params;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Clauses or templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `doc_clause`: Markdown and the JSON Schema of its variables.
    Clause,
    /// `doc_template`: ordered clause references, layout, signer roles.
    Template,
}

impl Kind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Kind::Clause => "doc_clause",
            Kind::Template => "doc_template",
        }
    }

    pub(crate) fn id_column(self) -> &'static str {
        match self {
            Kind::Clause => "clause_id",
            Kind::Template => "template_id",
        }
    }

    /// The kind's own columns, as the API names them.
    pub(crate) fn content_columns(self) -> &'static [&'static str] {
        match self {
            Kind::Clause => &["body_markdown", "variables_json"],
            Kind::Template => &["clauses_ordered", "layout_json", "signer_roles"],
        }
    }

    /// What a not-found answer names.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Clause => "clause",
            Kind::Template => "template",
        }
    }

    /// The kind's columns as one JSON object.
    fn content(self) -> String {
        let content = self
            .content_columns()
            .iter()
            .map(|c| format!("'{c}', {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("jsonb_build_object({content})")
    }

    /// The versions' columns; their content only when it is small (a clause's text or a
    /// template's logo may not fit a Data API row: [`items`] reads it apart).
    fn select(self) -> String {
        format!(
            "SELECT {id} AS id, name, version, city_gate, role_gate, is_active, created_by, \
             created_at, published_at, \
             CASE WHEN octet_length(c.content::text) <= {INLINE_VALUE_BYTES} THEN c.content END \
             AS content FROM {table} CROSS JOIN LATERAL (SELECT {content} AS content) c",
            id = self.id_column(),
            table = self.table(),
            content = self.content(),
        )
    }
}

/// One version of a clause or template.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DocLibraryItem")]
pub struct Item {
    /// This version's id.
    pub id: Uuid,
    /// Shared by every version.
    pub name: String,
    /// 1, 2, …
    pub version: i32,
    /// Allowed city codes (`null`: everywhere).
    pub city_gate: Option<Vec<String>>,
    /// Signer roles it is for (`null`: everyone).
    pub role_gate: Option<Vec<String>>,
    /// Usable in new packs.
    pub is_active: bool,
    /// The user or API key that created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was published (`null`: a draft, not usable in packs).
    pub published_at: Option<DateTime<Utc>>,
    /// The kind's own columns.
    #[serde(flatten)]
    #[schemars(skip)]
    // described per kind: the api module's `ClauseVersion`, `DocTemplateVersion`
    pub content: serde_json::Map<String, Value>,
}

impl TryFrom<&Row> for Item {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        let content: Option<Value> = row.get("content")?;
        Ok(Self {
            id: row.get("id")?,
            name: row.get("name")?,
            version: row.get("version")?,
            city_gate: row.get("city_gate")?,
            role_gate: row.get("role_gate")?,
            is_active: row.get("is_active")?,
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
            published_at: row.get("published_at")?,
            content: match content {
                Some(Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            },
        })
    }
}

/// A gate (a list, or `NULL` for none) as the statement's `text[]`: lists go as JSON.
fn gate_sql(name: &str) -> String {
    format!(
        "CASE WHEN :{name}::jsonb IS NULL THEN NULL \
         ELSE ARRAY(SELECT jsonb_array_elements_text(:{name}::jsonb)) END"
    )
}

impl Item {
    /// Its gate.
    pub fn gate(&self) -> Gate {
        Gate {
            cities: self.city_gate.clone(),
            roles: self.role_gate.clone(),
        }
    }

    /// How people name this version.
    pub fn label(&self, kind: Kind) -> String {
        format!("{} {:?} v{}", kind.noun(), self.name, self.version)
    }

    /// A content column.
    pub fn get(&self, column: &str) -> &Value {
        self.content.get(column).unwrap_or(&Value::Null)
    }
}

/// The checked values of a new row.
pub struct NewItem {
    pub city_gate: Option<Vec<String>>,
    pub role_gate: Option<Vec<String>>,
    pub content: Value,
}

/// The versions of `rows`, their large contents read apart (in slices).
async fn items(
    client: &(impl Session + ?Sized),
    kind: Kind,
    rows: &[Row],
) -> Result<Vec<Item>, DbError> {
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let mut item = Item::try_from(row)?;
        if row.get::<Option<Value>>("content")?.is_none() {
            let text = read_in_slices(
                client,
                &format!("{}::text", kind.content()),
                &format!("{} WHERE {} = :id", kind.table(), kind.id_column()),
                params!(id = item.id),
            )
            .await?;
            item.content = serde_json::from_str(&text)
                .map_err(|err| DbError::decode(format!("content: {err}")))?;
        }
        items.push(item);
    }
    Ok(items)
}

/// The organization's version `id`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn get(
    client: &(impl Session + ?Sized),
    org: Uuid,
    kind: Kind,
    id: Uuid,
) -> Result<Option<Item>, DbError> {
    let rows = client
        .fetch_all(
            &format!(
                "{} WHERE organization_id = :org AND {} = :id",
                kind.select(),
                kind.id_column()
            ),
            params!(org, id),
        )
        .await?;
    Ok(items(client, kind, &rows).await?.pop())
}

/// Every version of `name`, newest first.
#[tracing::instrument(skip_all)]
pub async fn versions(
    client: &(impl Session + ?Sized),
    org: Uuid,
    kind: Kind,
    name: &str,
) -> Result<Vec<Item>, DbError> {
    let rows = client
        .fetch_all(
            &format!(
                "{} WHERE organization_id = :org AND name = :name ORDER BY version DESC",
                kind.select()
            ),
            params!(org, name),
        )
        .await?;
    items(client, kind, &rows).await
}

/// Inserts `item` as the next version of `name` (one writer per name at a time).
#[tracing::instrument(skip_all)]
pub async fn insert(
    tx: &(impl Session + ?Sized),
    org: Uuid,
    kind: Kind,
    name: &str,
    created_by: &str,
    item: NewItem,
) -> Result<Item, DbError> {
    // One writer per name at a time: the next version number is never raced.
    tx.run(
        "SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))",
        params!(key = format!("{}:{}:{name}", kind.table(), org)),
    )
    .await?;
    let columns = kind.content_columns();
    let values = columns
        .iter()
        .map(|c| match *c {
            "body_markdown" => format!(":content::jsonb->>'{c}'"),
            _ => format!(":content::jsonb->'{c}'"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let row = tx
        .fetch_one(
            &format!(
                "WITH inserted AS (INSERT INTO {table} (organization_id, name, version, city_gate, \
                 role_gate, created_by, {columns}) SELECT :org, :name::text, \
                 COALESCE((SELECT max(version) FROM {table} WHERE organization_id = :org \
                           AND name = :name::text), 0) + 1, \
                 {city_gate}, {role_gate}, :created_by, {values} RETURNING *) \
                 SELECT inserted.{id} AS id FROM inserted",
                table = kind.table(),
                columns = columns.join(", "),
                id = kind.id_column(),
                city_gate = gate_sql("city_gate"),
                role_gate = gate_sql("role_gate"),
            ),
            params!(
                org = org,
                name,
                city_gate = item.city_gate.as_deref().map(json_list),
                role_gate = item.role_gate.as_deref().map(json_list),
                content = item.content,
                created_by,
            ),
        )
        .await?;
    let id: Uuid = row.get("id")?;
    let item = tx
        .fetch_one(
            &format!("{} WHERE {} = :id", kind.select(), kind.id_column()),
            params!(id),
        )
        .await?;
    Ok(items(tx, kind, &[item]).await?.remove(0))
}

/// Publishes version `id` once; how many rows changed (0: published already, or none).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn publish(
    client: &(impl Session + ?Sized),
    org: Uuid,
    kind: Kind,
    id: Uuid,
) -> Result<u64, DbError> {
    client
        .run(
            &format!(
                "UPDATE {} SET published_at = now() WHERE organization_id = :org AND {} = :id \
                 AND published_at IS NULL",
                kind.table(),
                kind.id_column()
            ),
            params!(org, id),
        )
        .await
}

/// Retires version `id` from new packs.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn deactivate(
    client: &(impl Session + ?Sized),
    org: Uuid,
    kind: Kind,
    id: Uuid,
) -> Result<(), DbError> {
    client
        .run(
            &format!(
                "UPDATE {} SET is_active = false WHERE organization_id = :org AND {} = :id",
                kind.table(),
                kind.id_column()
            ),
            params!(org, id),
        )
        .await?;
    Ok(())
}

/// The list route's filters.
pub struct ListFilter<'a> {
    /// This name only.
    pub name: Option<&'a str>,
    /// Active or not.
    pub active: Option<bool>,
    /// Published or not.
    pub published: Option<bool>,
    /// What a pack for this city may use.
    pub city: Option<&'a str>,
    /// What a pack for this signer role may use.
    pub role: Option<&'a str>,
    /// After this page's last version.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// A page of the organization's versions, newest first.
#[tracing::instrument(skip_all)]
pub async fn list(
    client: &(impl Session + ?Sized),
    org: Uuid,
    kind: Kind,
    filter: &ListFilter<'_>,
    limit: i64,
) -> Result<Vec<Item>, DbError> {
    let (after_t, after_id) = filter.after.unzip();
    let rows = client
        .fetch_all(
            &format!(
                "{select} WHERE organization_id = :org \
                 AND (:name::text IS NULL OR name = :name) \
                 AND (:active::bool IS NULL OR is_active = :active) \
                 AND (:published::bool IS NULL OR (published_at IS NOT NULL) = :published) \
                 AND (:city::text IS NULL OR city_gate IS NULL \
                      OR lower(:city) = ANY (SELECT lower(c) FROM unnest(city_gate) c)) \
                 AND (:role::text IS NULL OR role_gate IS NULL OR :role = ANY (role_gate)) \
                 AND (:after_t::timestamptz IS NULL \
                      OR (created_at, {id}) < (:after_t::timestamptz, :after_id::uuid)) \
                 ORDER BY created_at DESC, {id} DESC LIMIT :limit",
                select = kind.select(),
                id = kind.id_column()
            ),
            params!(
                org,
                name = filter.name,
                active = filter.active,
                published = filter.published,
                city = filter.city,
                role = filter.role,
                after_t,
                after_id,
                limit,
            ),
        )
        .await?;
    items(client, kind, &rows).await
}
