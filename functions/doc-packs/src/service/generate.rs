//! Generating a pack's documents: each template's clauses resolved (pinned versions, or the
//! latest published, active one), gates enforced, the variables checked against every
//! clause's JSON Schema, every placeholder given a value, then each document typeset by
//! `gsign-render`. Every problem is reported at once, before anything is typeset.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use gsign_core::packs::{Signer, MAX_PACK_TEMPLATES};
use gsign_core::FieldError;
use gsign_platform::database::Session;
use gsign_platform::http::Caller;
use gsign_render::{Document, Rendered};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::DocPacksApi;
use crate::error::{DocPacksCase, DocPacksError};
use crate::service::library::{ClauseRef, Item, Kind, Layout, SignerRole};

/// A clause as typeset in a document.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "DocPackResolvedClause")]
pub struct ResolvedClause {
    /// The version's id.
    pub clause_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: i32,
}

/// One document to typeset: its template, clauses, signer roles and Markdown.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The template version.
    pub template: Item,
    /// Its signer roles, in signing order.
    pub roles: Vec<String>,
    /// The clauses, in order.
    pub clauses: Vec<ResolvedClause>,
    /// What is typeset.
    pub document: Document,
}

/// What a pack is generated from.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The pack's city.
    pub city: &'a str,
    /// Template version ids, in order.
    pub templates: &'a [Uuid],
    /// The variables (a JSON object).
    pub variables: &'a Value,
    /// Role -> signer.
    pub signers: &'a BTreeMap<String, Signer>,
}

/// The placeholder prefix of the signature section's names (`{{_signers.buyer}}`).
const SIGNER_NAMES: &str = "_signers";

/// The text of the JSON Pointer of a dotted placeholder (`buyer.name` -> `/buyer/name`).
fn pointer(path: &str) -> String {
    path.split('.').map(|p| format!("/{p}")).collect()
}

impl DocPacksApi {
    /// Resolves and checks everything `request` needs; `Err` lists every problem (gates
    /// apart, so they are told as such).
    #[tracing::instrument(skip_all)]
    pub(crate) async fn plan(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        request: &Request<'_>,
    ) -> Result<Vec<Plan>, DocPacksError> {
        let mut errors = Vec::new();
        let mut gated = Vec::new();
        let roles: Vec<&str> = request.signers.keys().map(String::as_str).collect();
        if request.templates.is_empty() || request.templates.len() > MAX_PACK_TEMPLATES {
            errors.push(FieldError::new(
                "/templates",
                format!("must list 1 to {MAX_PACK_TEMPLATES} templates"),
            ));
        }
        let mut plans = Vec::new();
        let mut used_roles = BTreeSet::new();
        // Each clause's schema is checked once, however many documents use it.
        let mut schemas_checked = BTreeSet::new();
        for (t, template_id) in request.templates.iter().enumerate() {
            let at = format!("/templates/{t}");
            let Some(template) = self
                .get(client, caller, Kind::Template, *template_id)
                .await?
            else {
                errors.push(FieldError::new(
                    &at,
                    "no such template in your organization",
                ));
                continue;
            };
            let label = template.label(Kind::Template);
            if template.published_at.is_none() {
                errors.push(FieldError::new(&at, format!("{label} is not published")));
            }
            if !template.is_active {
                errors.push(FieldError::new(&at, format!("{label} is deactivated")));
            }
            if let Some(refusal) = template.gate().refusal(&label, request.city, &roles) {
                gated.push(FieldError::new(&at, refusal));
            }
            let signer_roles: Vec<String> =
                serde_json::from_value::<Vec<SignerRole>>(template.get("signer_roles").clone())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.role)
                    .collect();
            for role in &signer_roles {
                used_roles.insert(role.clone());
                if !request.signers.contains_key(role) {
                    errors.push(FieldError::new(
                        format!("/signer_map/{role}"),
                        format!("{label} needs a signer for the role {role}"),
                    ));
                }
            }
            let layout: Layout =
                serde_json::from_value(template.get("layout_json").clone()).unwrap_or_default();
            let references = ClauseRef::stored(template.get("clauses_ordered"))?;
            let mut bodies = Vec::new();
            let mut clauses = Vec::new();
            for (c, reference) in references.iter().enumerate() {
                let at = format!("{at}/clauses/{c}");
                let clause = match self.resolve_clause(client, caller, reference).await? {
                    Ok(clause) => clause,
                    Err(problem) => {
                        errors.push(FieldError::new(&at, format!("{label}: {problem}")));
                        continue;
                    }
                };
                let clause_label = clause.label(Kind::Clause);
                if let Some(refusal) = clause.gate().refusal(&clause_label, request.city, &roles) {
                    gated.push(FieldError::new(&at, refusal));
                }
                if schemas_checked.insert(clause.id) {
                    for problem in gsign_render::variables::validate(
                        clause.get("variables_json"),
                        request.variables,
                    ) {
                        errors.push(FieldError::new(
                            format!("/variables{}", problem.pointer),
                            format!("{clause_label}: {}", problem.message),
                        ));
                    }
                }
                bodies.push(
                    clause
                        .get("body_markdown")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                clauses.push(ResolvedClause {
                    clause_id: clause.id,
                    name: clause.name.clone(),
                    version: clause.version,
                });
            }
            let separator = if layout.page_break_between_clauses {
                "\n\n<!-- pagebreak -->\n\n"
            } else {
                "\n\n"
            };
            let mut markdown = bodies.join(separator);
            let found = gsign_render::placeholders(&markdown);
            for role in &found.signature_roles {
                if !signer_roles.contains(role) {
                    errors.push(FieldError::new(
                        &at,
                        format!("{label} has a signature block for {role}, which is not one of its signer roles"),
                    ));
                }
            }
            // Roles without a block of their own sign at the end.
            let unplaced: Vec<&String> = signer_roles
                .iter()
                .filter(|r| !found.signature_roles.contains(r))
                .collect();
            let mut signer_names = BTreeMap::new();
            if !unplaced.is_empty() {
                markdown.push_str("\n\n---\n\n");
                for role in unplaced {
                    // The name is a value, so it is only ever text.
                    markdown.push_str(&format!(
                        "**{role}**: {{{{{SIGNER_NAMES}.{role}}}}}\n\n{{{{signature:{role}}}}}\n\n"
                    ));
                    if let Some(signer) = request.signers.get(role) {
                        signer_names.insert(format!("{SIGNER_NAMES}.{role}"), signer.name.clone());
                    }
                }
            }
            let mut texts = gsign_render::variables::texts(&found.variables, request.variables);
            for name in found.variables.iter().filter(|n| !texts.contains_key(*n)) {
                errors.push(FieldError::new(
                    format!("/variables{}", pointer(name)),
                    format!(
                        "{label} uses {{{{{name}}}}}: give it a text, number or true/false value"
                    ),
                ));
            }
            texts.extend(signer_names);
            let logo_png = layout
                .logo_png_base64
                .as_deref()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
            let title = layout
                .title
                .clone()
                .unwrap_or_else(|| template.name.clone());
            let id = document_identity(&template, &clauses, &texts);
            plans.push(Plan {
                roles: signer_roles,
                clauses,
                document: Document {
                    title,
                    id,
                    markdown,
                    logo_png,
                    lang: layout.lang.clone().unwrap_or_else(|| "en".to_owned()),
                    header: layout.header.clone(),
                    footer: layout.footer.clone(),
                    variables: texts,
                },
                template,
            });
        }
        for role in request.signers.keys().filter(|r| !used_roles.contains(*r)) {
            errors.push(FieldError::new(
                format!("/signer_map/{role}"),
                "no template of this pack has this signer role",
            ));
        }
        if !errors.is_empty() {
            errors.extend(gated);
            return Err(DocPacksError::Validation(errors));
        }
        if !gated.is_empty() {
            return Err(DocPacksCase::Gated(gated).into());
        }
        Ok(plans)
    }

    /// The clause version `reference` means now, or why there is none to use.
    #[tracing::instrument(skip_all)]
    async fn resolve_clause(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        reference: &ClauseRef,
    ) -> Result<Result<Item, String>, DocPacksError> {
        let Some(named) = self
            .get(client, caller, Kind::Clause, reference.clause_id)
            .await?
        else {
            return Ok(Err("a clause it uses no longer exists".to_owned()));
        };
        let versions = self
            .versions(client, caller, Kind::Clause, &named.name)
            .await?;
        let usable = |v: &&Item| v.published_at.is_some() && v.is_active;
        Ok(match reference.version {
            Some(version) => match versions.iter().find(|v| v.version == version) {
                Some(v) if usable(&v) => Ok(v.clone()),
                Some(v) => Err(format!(
                    "{} is not published or is deactivated",
                    v.label(Kind::Clause)
                )),
                None => Err(format!("clause {:?} has no version {version}", named.name)),
            },
            None => {
                versions.iter().find(usable).cloned().ok_or_else(|| {
                    format!("clause {:?} has no published, active version", named.name)
                })
            }
        })
    }
}

/// The document's identity (its PDF `/ID`): the same template version, clause versions and
/// values give the same id, so the same bytes.
fn document_identity(
    template: &Item,
    clauses: &[ResolvedClause],
    texts: &BTreeMap<String, String>,
) -> String {
    let mut hash = Sha256::new();
    hash.update(template.id.as_bytes());
    hash.update(template.version.to_be_bytes());
    for clause in clauses {
        hash.update(clause.clause_id.as_bytes());
    }
    for (name, text) in texts {
        hash.update((name.len() as u64).to_be_bytes());
        hash.update(name.as_bytes());
        hash.update((text.len() as u64).to_be_bytes());
        hash.update(text.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// Typesets every plan, on every core: each document is independent.
pub fn typeset(plans: &[Plan]) -> Result<Vec<Rendered>, gsign_render::RenderError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(plans.len().max(1));
    let mut results: Vec<Option<Result<Rendered, gsign_render::RenderError>>> =
        vec![None; plans.len()];
    std::thread::scope(|scope| {
        let chunks = results.chunks_mut(plans.len().div_ceil(workers).max(1));
        for (chunk_index, chunk) in chunks.enumerate() {
            let start = chunk_index * plans.len().div_ceil(workers).max(1);
            scope.spawn(move || {
                for (offset, slot) in chunk.iter_mut().enumerate() {
                    *slot = Some(gsign_render::render(&plans[start + offset].document));
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(gsign_render::RenderError::Typeset("not typeset".into()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_point_into_the_variables() {
        assert_eq!(pointer("buyer.name"), "/buyer/name");
    }
}
