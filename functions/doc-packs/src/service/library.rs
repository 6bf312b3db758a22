//! The clause library and document templates (seed 003's `doc_clause` and `doc_template`):
//! create, list (by name, gate, active), get, new version, publish, deactivate. The two share
//! everything but their content, which [`Kind`] describes.
//!
//! Every version is its own row with its own id, immutable: a new version is a new row
//! (`version` + 1 for the name), publishing sets `published_at` once, deactivating retires a
//! version from new packs. Only published, active versions reach a pack.

use std::collections::BTreeSet;

use base64::Engine as _;
use gsign_core::packs::{
    role_problem, Gate, MAX_CLAUSE_BYTES, MAX_SIGNER_ROLES, MAX_TEMPLATE_CLAUSES,
};
use gsign_core::FieldError;
use gsign_platform::database::{Session, Transaction};
use gsign_platform::http::Caller;
use gsign_platform::pagination::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::DocPacksApi;
use crate::error::{DocPacksCase, DocPacksError};
use crate::store;

/// Largest logo, in bytes.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

pub use crate::store::library::{Item, Kind};

/// `POST /v1/clauses`, `POST /v1/doc-templates` and their `…/{id}/versions` body: the
/// kind's content columns and the gates. On a new version, what is left out is kept.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, with = "gsign_core::patch::double_option")]
    city_gate: Option<Option<Vec<String>>>,
    #[serde(default, with = "gsign_core::patch::double_option")]
    role_gate: Option<Option<Vec<String>>>,
    #[serde(default)]
    body_markdown: Option<String>,
    #[serde(default)]
    variables_json: Option<Value>,
    #[serde(default)]
    clauses_ordered: Option<Vec<ClauseRef>>,
    #[serde(default)]
    layout_json: Option<Layout>,
    #[serde(default)]
    signer_roles: Option<Vec<SignerRole>>,
}

/// `GET /v1/clauses` and `GET /v1/doc-templates`' query: which page, and which items.
#[derive(Debug, Clone)]
pub struct ItemQuery {
    /// `limit` and `cursor`.
    pub page: PageRequest,
    /// `name`: this name only.
    pub name: Option<String>,
    /// `active`: active or not.
    pub active: Option<bool>,
    /// `published`: published or not.
    pub published: Option<bool>,
    /// `city`: what a pack for this city may use.
    pub city: Option<String>,
    /// `role`: what a pack for this signer role may use.
    pub role: Option<String>,
}

/// A template's reference to a clause.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocTemplateClauseRef")]
pub struct ClauseRef {
    /// Any version's id of the clause.
    pub clause_id: Uuid,
    /// The version to use; absent: the latest published, active version when a pack is
    /// generated.
    #[serde(default)]
    pub version: Option<i32>,
}

impl ClauseRef {
    /// A template's stored references (`[{clause_id, version, order}]`, in order).
    pub fn stored(value: &Value) -> Result<Vec<ClauseRef>, DocPacksError> {
        #[derive(Deserialize)]
        struct Stored {
            clause_id: Uuid,
            version: Option<i32>,
        }
        serde_json::from_value::<Vec<Stored>>(value.clone())
            .map(|refs| {
                refs.into_iter()
                    .map(|r| ClauseRef {
                        clause_id: r.clause_id,
                        version: r.version,
                    })
                    .collect()
            })
            .map_err(|e| DocPacksError::Internal(anyhow::anyhow!("stored clauses_ordered: {e}")))
    }
}

/// A template's page setup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocTemplateLayout")]
pub struct Layout {
    /// The document's title (default: the template's name); not blank, at most 200
    /// characters once trimmed.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub title: Option<String>,
    /// Header text beside the logo (default: the title); not blank, at most 200 characters
    /// once trimmed.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub header: Option<String>,
    /// Footer text above the page numbers; not blank, at most 500 characters once trimmed.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub footer: Option<String>,
    /// A PNG, base64, at most 256 KiB.
    #[serde(default)]
    #[schemars(extend("contentEncoding" = "base64", "contentMediaType" = "image/png"))]
    pub logo_png_base64: Option<String>,
    /// Text language (default `en`): hyphenation, quotes.
    #[serde(default)]
    #[schemars(pattern(r"^[a-z]{2,3}$"))]
    pub lang: Option<String>,
    /// Each clause on a new page.
    #[serde(default)]
    pub page_break_between_clauses: bool,
}

/// One signer role of a template, in signing order.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DocTemplateSignerRole")]
pub struct SignerRole {
    /// `buyer`, `talent`, …
    #[schemars(pattern(r"^[a-z][a-z0-9_-]{0,31}$"))]
    pub role: String,
}

fn text_problem(value: &str, pointer: &str, max: usize, errors: &mut Vec<FieldError>) {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        errors.push(FieldError::new(
            pointer,
            format!("must be 1 to {max} characters"),
        ));
    }
}

/// The base version's `column`, if there is a base.
fn inherited(base: Option<&Item>, column: &str) -> Option<Value> {
    base.map(|b| b.get(column).clone())
}

/// The fields of `input` that are not `kind`'s.
fn misplaced_problems(kind: Kind, input: &ItemInput, errors: &mut Vec<FieldError>) {
    let misplaced: &[(&str, bool)] = match kind {
        Kind::Clause => &[
            ("/clauses_ordered", input.clauses_ordered.is_some()),
            ("/layout_json", input.layout_json.is_some()),
            ("/signer_roles", input.signer_roles.is_some()),
        ],
        Kind::Template => &[
            ("/body_markdown", input.body_markdown.is_some()),
            ("/variables_json", input.variables_json.is_some()),
        ],
    };
    for (pointer, present) in misplaced {
        if *present {
            errors.push(FieldError::new(
                *pointer,
                format!("is not a {} field", kind.noun()),
            ));
        }
    }
}

/// A clause's content: its body and variables' schema, as given or else its base's.
fn clause_content(input: ItemInput, base: Option<&Item>, errors: &mut Vec<FieldError>) -> Value {
    let body = input
        .body_markdown
        .or_else(|| inherited(base, "body_markdown").and_then(|v| v.as_str().map(str::to_owned)));
    let schema = input
        .variables_json
        .or_else(|| inherited(base, "variables_json"));
    body_problems(body.as_deref(), errors);
    schema_problems(schema.as_ref(), errors);
    json!({"body_markdown": body, "variables_json": schema})
}

/// A clause's body is some Markdown of the right size, its signature blocks' roles valid.
fn body_problems(body: Option<&str>, errors: &mut Vec<FieldError>) {
    match body {
        None => errors.push(FieldError::new("/body_markdown", "is required")),
        Some(body) if body.trim().is_empty() || body.len() > MAX_CLAUSE_BYTES => {
            errors.push(FieldError::new(
                "/body_markdown",
                format!("must be 1 to {MAX_CLAUSE_BYTES} bytes of Markdown"),
            ))
        }
        Some(body) => match gsign_render::check_markdown(body) {
            Ok(found) => {
                for role in &found.signature_roles {
                    if let Some(problem) = role_problem(role) {
                        errors.push(FieldError::new(
                            "/body_markdown",
                            format!("{{{{signature:{role}}}}}: {problem}"),
                        ));
                    }
                }
            }
            Err(problem) => errors.push(FieldError::new("/body_markdown", problem.to_string())),
        },
    }
}

/// A clause's variables have a valid JSON Schema.
fn schema_problems(schema: Option<&Value>, errors: &mut Vec<FieldError>) {
    match schema {
        None => errors.push(FieldError::new(
            "/variables_json",
            "is required: the JSON Schema of the variables the clause uses ({} if none)",
        )),
        Some(schema) => {
            if let Err(problem) = gsign_render::variables::check_schema(schema) {
                errors.push(FieldError::new("/variables_json", problem));
            }
        }
    }
}

/// A template's clauses: as given, else its base's.
fn clauses_or_inherited(
    given: Option<Vec<ClauseRef>>,
    base: Option<&Item>,
) -> Result<Option<Vec<ClauseRef>>, DocPacksError> {
    match given {
        Some(clauses) => Ok(Some(clauses)),
        None => inherited(base, "clauses_ordered")
            .map(|v| ClauseRef::stored(&v))
            .transpose(),
    }
}

/// A template's layout: as given, else its base's.
fn layout_or_inherited(given: Option<Layout>, base: Option<&Item>) -> Option<Layout> {
    match given {
        Some(layout) => Some(layout),
        None => inherited(base, "layout_json")
            .map(|v| serde_json::from_value::<Layout>(v).unwrap_or_default()),
    }
}

/// A template's signer roles: as given, else its base's.
fn signer_roles_or_inherited(
    given: Option<Vec<SignerRole>>,
    base: Option<&Item>,
) -> Option<Vec<SignerRole>> {
    match given {
        Some(roles) => Some(roles),
        None => inherited(base, "signer_roles")
            .map(|v| serde_json::from_value::<Vec<SignerRole>>(v).unwrap_or_default()),
    }
}

/// A template lists 1 to [`MAX_TEMPLATE_CLAUSES`] clauses.
fn clause_count_problems(clauses: &[ClauseRef], errors: &mut Vec<FieldError>) {
    if clauses.is_empty() || clauses.len() > MAX_TEMPLATE_CLAUSES {
        errors.push(FieldError::new(
            "/clauses_ordered",
            format!("must list 1 to {MAX_TEMPLATE_CLAUSES} clauses"),
        ));
    }
}

/// A template lists 1 to [`MAX_SIGNER_ROLES`] valid roles, each once.
fn signer_role_problems(roles: &[SignerRole], errors: &mut Vec<FieldError>) {
    if roles.is_empty() || roles.len() > MAX_SIGNER_ROLES {
        errors.push(FieldError::new(
            "/signer_roles",
            format!("must list 1 to {MAX_SIGNER_ROLES} roles"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, role) in roles.iter().enumerate() {
        if let Some(problem) = role_problem(&role.role) {
            errors.push(FieldError::new(format!("/signer_roles/{i}/role"), problem));
        } else if !seen.insert(role.role.as_str()) {
            errors.push(FieldError::new(
                format!("/signer_roles/{i}/role"),
                "is listed twice",
            ));
        }
    }
}

/// A template's clauses as stored: `[{clause_id, version, order}]`, `order` from 1.
fn ordered_clauses(clauses: &[ClauseRef]) -> Vec<Value> {
    clauses
        .iter()
        .enumerate()
        .map(|(order, c)| json!({"clause_id": c.clause_id, "version": c.version, "order": order + 1}))
        .collect()
}

impl DocPacksApi {
    /// Checks `input` for `kind` (with `base` the version it follows, if any) against the
    /// library, reporting every problem at once.
    #[tracing::instrument(skip_all)]
    async fn checked(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        kind: Kind,
        mut input: ItemInput,
        base: Option<&Item>,
    ) -> Result<store::library::NewItem, DocPacksError> {
        let mut errors = Vec::new();
        let city_gate = match input.city_gate.take() {
            Some(gate) => gate,
            None => base.and_then(|b| b.city_gate.clone()),
        };
        let role_gate = match input.role_gate.take() {
            Some(gate) => gate,
            None => base.and_then(|b| b.role_gate.clone()),
        };
        errors.extend(
            Gate {
                cities: city_gate.clone(),
                roles: role_gate.clone(),
            }
            .problems(""),
        );
        misplaced_problems(kind, &input, &mut errors);
        let content = match kind {
            Kind::Clause => clause_content(input, base, &mut errors),
            Kind::Template => {
                self.template_content(client, caller, input, base, &mut errors)
                    .await?
            }
        };
        if !errors.is_empty() {
            return Err(DocPacksError::Validation(errors));
        }
        Ok(store::library::NewItem {
            city_gate,
            role_gate,
            content,
        })
    }

    /// A template's content: its clauses (each checked against the library), layout and
    /// signer roles, as given or else its base's.
    async fn template_content(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        input: ItemInput,
        base: Option<&Item>,
        errors: &mut Vec<FieldError>,
    ) -> Result<Value, DocPacksError> {
        let clauses = clauses_or_inherited(input.clauses_ordered, base)?;
        let layout = layout_or_inherited(input.layout_json, base);
        let roles = signer_roles_or_inherited(input.signer_roles, base);
        let clauses = clauses.unwrap_or_default();
        clause_count_problems(&clauses, errors);
        for (i, reference) in clauses.iter().enumerate() {
            if let Some(problem) = self.clause_ref_problem(client, caller, reference).await? {
                errors.push(FieldError::new(format!("/clauses_ordered/{i}"), problem));
            }
        }
        let layout = layout.unwrap_or_default();
        layout_problems(&layout, errors);
        let roles = roles.unwrap_or_default();
        signer_role_problems(&roles, errors);
        let ordered = ordered_clauses(&clauses);
        Ok(json!({"clauses_ordered": ordered, "layout_json": layout, "signer_roles": roles}))
    }

    /// Why a template cannot refer to `reference`: no such clause, no such version, or
    /// nothing published and active to use.
    #[tracing::instrument(skip_all)]
    async fn clause_ref_problem(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        reference: &ClauseRef,
    ) -> Result<Option<String>, DocPacksError> {
        let Some(named) = self
            .get(client, caller, Kind::Clause, reference.clause_id)
            .await?
        else {
            return Ok(Some("no such clause in your organization".to_owned()));
        };
        let versions = self
            .versions(client, caller, Kind::Clause, &named.name)
            .await?;
        Ok(match reference.version {
            Some(version) => match versions.iter().find(|v| v.version == version) {
                None => Some(format!("clause {:?} has no version {version}", named.name)),
                Some(v) if v.published_at.is_none() => {
                    Some(format!("{} is not published", v.label(Kind::Clause)))
                }
                Some(v) if !v.is_active => {
                    Some(format!("{} is deactivated", v.label(Kind::Clause)))
                }
                Some(_) => None,
            },
            None => (!versions
                .iter()
                .any(|v| v.published_at.is_some() && v.is_active))
            .then(|| format!("clause {:?} has no published, active version", named.name)),
        })
    }

    /// The version `id` of the caller's organization.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn get(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        kind: Kind,
        id: Uuid,
    ) -> Result<Option<Item>, DocPacksError> {
        Ok(store::library::get(client, caller.org, kind, id).await?)
    }

    /// Every version of `name`, newest first.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn versions(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        kind: Kind,
        name: &str,
    ) -> Result<Vec<Item>, DocPacksError> {
        Ok(store::library::versions(client, caller.org, kind, name).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn insert(
        &self,
        tx: &Transaction<'_>,
        caller: &Caller,
        kind: Kind,
        name: &str,
        item: store::library::NewItem,
    ) -> Result<Item, DocPacksError> {
        let created_by = caller
            .user
            .or(caller.api_key)
            .map(|id| id.to_string())
            .unwrap_or_else(|| "system".to_owned());
        Ok(store::library::insert(tx, caller.org, kind, name, &created_by, item).await?)
    }

    /// `POST /v1/clauses` and `POST /v1/doc-templates`: version 1 of a new name (a name that
    /// exists gets its next version).
    #[tracing::instrument(skip_all)]
    pub async fn create_item(
        &self,
        caller: &Caller,
        kind: Kind,
        mut input: ItemInput,
    ) -> Result<Item, DocPacksError> {
        let name = input.name.take().unwrap_or_default().trim().to_owned();
        let mut conn = self.base().db.connect().await?;
        let tx = conn.begin().await?;
        let mut errors = Vec::new();
        text_problem(&name, "/name", 200, &mut errors);
        let checked = self.checked(&tx, caller, kind, input, None).await;
        match checked {
            Err(DocPacksError::Validation(more)) => {
                errors.extend(more);
                Err(DocPacksError::Validation(errors))
            }
            Err(other) => Err(other),
            Ok(_) if !errors.is_empty() => Err(DocPacksError::Validation(errors)),
            Ok(item) => {
                let created = self.insert(&tx, caller, kind, &name, item).await?;
                tx.commit().await?;
                Ok(created)
            }
        }
    }

    /// `POST /v1/clauses/{id}/versions` (and templates'): the next version of `id`'s name,
    /// starting from `id`'s content.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn new_version(
        &self,
        caller: &Caller,
        kind: Kind,
        id: Uuid,
        input: ItemInput,
    ) -> Result<Item, DocPacksError> {
        if input.name.is_some() {
            return Err(DocPacksError::invalid(
                "/name",
                "cannot change between versions; create a new one instead",
            ));
        }
        let mut conn = self.base().db.connect().await?;
        let tx = conn.begin().await?;
        let base = self
            .get(&tx, caller, kind, id)
            .await?
            .ok_or(DocPacksError::NotFound(kind.noun()))?;
        let item = self.checked(&tx, caller, kind, input, Some(&base)).await?;
        let created = self.insert(&tx, caller, kind, &base.name, item).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// `POST …/{id}/publish`: once.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn publish(
        &self,
        caller: &Caller,
        kind: Kind,
        id: Uuid,
    ) -> Result<Item, DocPacksError> {
        let client = self.base().db.connect().await?;
        let updated = store::library::publish(&client, caller.org, kind, id).await?;
        let item = self
            .get(&client, caller, kind, id)
            .await?
            .ok_or(DocPacksError::NotFound(kind.noun()))?;
        if updated == 0 {
            return Err(DocPacksCase::AlreadyPublished.into());
        }
        Ok(item)
    }

    /// `POST …/{id}/deactivate`: no new pack uses this version (packs made with it keep it).
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn deactivate(
        &self,
        caller: &Caller,
        kind: Kind,
        id: Uuid,
    ) -> Result<Item, DocPacksError> {
        let client = self.base().db.connect().await?;
        store::library::deactivate(&client, caller.org, kind, id).await?;
        self.get(&client, caller, kind, id)
            .await?
            .ok_or(DocPacksError::NotFound(kind.noun()))
    }

    /// `GET /v1/clauses` (and templates): newest first; `name`, `active`, `published`, and
    /// the gates: `city` and `role` keep what a pack for that city or role may use.
    #[tracing::instrument(skip_all)]
    pub async fn list_items(
        &self,
        caller: &Caller,
        kind: Kind,
        query: &ItemQuery,
    ) -> Result<Page<Item>, DocPacksError> {
        let page = query.page;
        let client = self.base().db.connect().await?;
        let filter = store::library::ListFilter {
            name: query.name.as_deref(),
            active: query.active,
            published: query.published,
            city: query.city.as_deref(),
            role: query.role.as_deref(),
            after: page.after,
        };
        let mut rows =
            store::library::list(&client, caller.org, kind, &filter, page.fetch()).await?;
        let next_cursor = page.finish(&mut rows, |i| (i.created_at, i.id));
        Ok(Page {
            data: rows,
            next_cursor,
        })
    }
}

/// Problems of a template's layout.
fn layout_problems(layout: &Layout, errors: &mut Vec<FieldError>) {
    for (pointer, value, max) in [
        ("/layout_json/title", &layout.title, 200),
        ("/layout_json/header", &layout.header, 200),
        ("/layout_json/footer", &layout.footer, 500),
    ] {
        if let Some(value) = value {
            text_problem(value, pointer, max, errors);
        }
    }
    if let Some(lang) = &layout.lang {
        if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_lowercase()) {
            errors.push(FieldError::new(
                "/layout_json/lang",
                "must be an ISO 639 language code such as mn or en",
            ));
        }
    }
    if let Some(logo) = &layout.logo_png_base64 {
        match base64::engine::general_purpose::STANDARD.decode(logo) {
            Ok(png) if png.len() <= MAX_LOGO_BYTES && png.starts_with(b"\x89PNG\r\n\x1a\n") => {}
            Ok(png) if png.len() > MAX_LOGO_BYTES => errors.push(FieldError::new(
                "/layout_json/logo_png_base64",
                format!("must be at most {MAX_LOGO_BYTES} bytes"),
            )),
            _ => errors.push(FieldError::new(
                "/layout_json/logo_png_base64",
                "must be a PNG image, base64",
            )),
        }
    }
}
