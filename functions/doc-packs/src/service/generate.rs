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

/// What checking a pack's request finds as it goes: every problem, the gates that refuse,
/// the signer roles the templates use, and the clauses whose schema has been checked.
struct Checks<'r> {
    /// The request checked.
    request: &'r Request<'r>,
    /// Its signer roles.
    roles: Vec<&'r str>,
    /// The problems found.
    errors: Vec<FieldError>,
    /// The gates that refuse.
    gated: Vec<FieldError>,
    /// The signer roles some template has.
    used_roles: BTreeSet<String>,
    /// Each clause's schema is checked once, however many documents use it.
    schemas_checked: BTreeSet<Uuid>,
}

impl<'r> Checks<'r> {
    /// Nothing found yet about `request`.
    fn new(request: &'r Request<'r>) -> Self {
        Self {
            request,
            roles: request.signers.keys().map(String::as_str).collect(),
            errors: Vec::new(),
            gated: Vec::new(),
            used_roles: BTreeSet::new(),
            schemas_checked: BTreeSet::new(),
        }
    }

    /// A pack has 1 to [`MAX_PACK_TEMPLATES`] templates.
    fn check_template_count(&mut self) {
        if self.request.templates.is_empty() || self.request.templates.len() > MAX_PACK_TEMPLATES {
            self.errors.push(FieldError::new(
                "/templates",
                format!("must list 1 to {MAX_PACK_TEMPLATES} templates"),
            ));
        }
    }

    /// The template at `at` is published, active, and not gated.
    fn check_template(&mut self, template: &Item, label: &str, at: &str) {
        if template.published_at.is_none() {
            self.errors
                .push(FieldError::new(at, format!("{label} is not published")));
        }
        if !template.is_active {
            self.errors
                .push(FieldError::new(at, format!("{label} is deactivated")));
        }
        if let Some(refusal) = template
            .gate()
            .refusal(label, self.request.city, &self.roles)
        {
            self.gated.push(FieldError::new(at, refusal));
        }
    }

    /// Every one of a template's `signer_roles` has a signer; notes them as used.
    fn check_signers(&mut self, signer_roles: &[String], label: &str) {
        for role in signer_roles {
            self.used_roles.insert(role.clone());
            if !self.request.signers.contains_key(role) {
                self.errors.push(FieldError::new(
                    format!("/signer_map/{role}"),
                    format!("{label} needs a signer for the role {role}"),
                ));
            }
        }
    }

    /// The clause at `at` is not gated, and the variables fit its schema (checked once).
    fn check_clause(&mut self, clause: &Item, at: &str) {
        let clause_label = clause.label(Kind::Clause);
        if let Some(refusal) = clause
            .gate()
            .refusal(&clause_label, self.request.city, &self.roles)
        {
            self.gated.push(FieldError::new(at, refusal));
        }
        if self.schemas_checked.insert(clause.id) {
            for problem in gsign_render::variables::validate(
                clause.get("variables_json"),
                self.request.variables,
            ) {
                self.errors.push(FieldError::new(
                    format!("/variables{}", problem.pointer),
                    format!("{clause_label}: {}", problem.message),
                ));
            }
        }
    }

    /// Every signature block of the template at `at` is for one of its `signer_roles`.
    fn check_signature_blocks(
        &mut self,
        signature_roles: &[String],
        signer_roles: &[String],
        label: &str,
        at: &str,
    ) {
        for role in signature_roles {
            if !signer_roles.contains(role) {
                self.errors.push(FieldError::new(
                    at,
                    format!("{label} has a signature block for {role}, which is not one of its signer roles"),
                ));
            }
        }
    }

    /// The text of each of `variables`; those without one are problems.
    fn texts(&mut self, variables: &BTreeSet<String>, label: &str) -> BTreeMap<String, String> {
        let texts = gsign_render::variables::texts(variables, self.request.variables);
        for name in variables.iter().filter(|n| !texts.contains_key(*n)) {
            self.errors.push(FieldError::new(
                format!("/variables{}", pointer(name)),
                format!("{label} uses {{{{{name}}}}}: give it a text, number or true/false value"),
            ));
        }
        texts
    }

    /// Every signer has a role in some template.
    fn check_unused_signers(&mut self) {
        for role in self
            .request
            .signers
            .keys()
            .filter(|r| !self.used_roles.contains(*r))
        {
            self.errors.push(FieldError::new(
                format!("/signer_map/{role}"),
                "no template of this pack has this signer role",
            ));
        }
    }

    /// Every problem (the gates with them), else the gates that refuse, else nothing.
    fn verdict(self) -> Result<(), DocPacksError> {
        let Self {
            mut errors, gated, ..
        } = self;
        if !errors.is_empty() {
            errors.extend(gated);
            return Err(DocPacksError::Validation(errors));
        }
        if !gated.is_empty() {
            return Err(DocPacksCase::Gated(gated).into());
        }
        Ok(())
    }
}

/// A template's signer roles, in signing order.
fn signer_roles_of(template: &Item) -> Vec<String> {
    serde_json::from_value::<Vec<SignerRole>>(template.get("signer_roles").clone())
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.role)
        .collect()
}

/// The clauses' bodies as one Markdown, with a page break between them if the layout asks.
fn joined_clauses(bodies: &[String], layout: &Layout) -> String {
    let separator = if layout.page_break_between_clauses {
        "\n\n<!-- pagebreak -->\n\n"
    } else {
        "\n\n"
    };
    bodies.join(separator)
}

/// Appends a signature section for the `signer_roles` without a block of their own in
/// `signature_roles` (they sign at the end), with the values of their names' placeholders.
fn sign_at_the_end(
    markdown: &mut String,
    signer_roles: &[String],
    signature_roles: &[String],
    signers: &BTreeMap<String, Signer>,
) -> BTreeMap<String, String> {
    let unplaced: Vec<&String> = signer_roles
        .iter()
        .filter(|r| !signature_roles.contains(r))
        .collect();
    let mut signer_names = BTreeMap::new();
    if !unplaced.is_empty() {
        markdown.push_str("\n\n---\n\n");
        for role in unplaced {
            // The name is a value, so it is only ever text.
            markdown.push_str(&format!(
                "**{role}**: {{{{{SIGNER_NAMES}.{role}}}}}\n\n{{{{signature:{role}}}}}\n\n"
            ));
            if let Some(signer) = signers.get(role) {
                signer_names.insert(format!("{SIGNER_NAMES}.{role}"), signer.name.clone());
            }
        }
    }
    signer_names
}

/// The document of `template` as laid out by `layout`.
fn plan_of(
    template: Item,
    roles: Vec<String>,
    clauses: Vec<ResolvedClause>,
    layout: &Layout,
    markdown: String,
    texts: BTreeMap<String, String>,
) -> Plan {
    let logo_png = layout
        .logo_png_base64
        .as_deref()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let title = layout
        .title
        .clone()
        .unwrap_or_else(|| template.name.clone());
    let id = document_identity(&template, &clauses, &texts);
    Plan {
        roles,
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
    }
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
        let mut checks = Checks::new(request);
        checks.check_template_count();
        let mut plans = Vec::new();
        for (t, template_id) in request.templates.iter().enumerate() {
            let at = format!("/templates/{t}");
            if let Some(plan) = self
                .plan_template(client, caller, *template_id, &at, &mut checks)
                .await?
            {
                plans.push(plan);
            }
        }
        checks.check_unused_signers();
        checks.verdict()?;
        Ok(plans)
    }

    /// The document of the template `template_id` (at `at` in the request), its problems
    /// noted in `checks`; `None` if there is no such template.
    async fn plan_template(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        template_id: Uuid,
        at: &str,
        checks: &mut Checks<'_>,
    ) -> Result<Option<Plan>, DocPacksError> {
        let Some(template) = self
            .get(client, caller, Kind::Template, template_id)
            .await?
        else {
            checks
                .errors
                .push(FieldError::new(at, "no such template in your organization"));
            return Ok(None);
        };
        let label = template.label(Kind::Template);
        checks.check_template(&template, &label, at);
        let signer_roles = signer_roles_of(&template);
        checks.check_signers(&signer_roles, &label);
        let layout: Layout =
            serde_json::from_value(template.get("layout_json").clone()).unwrap_or_default();
        let references = ClauseRef::stored(template.get("clauses_ordered"))?;
        let (bodies, clauses) = self
            .resolve_clauses(client, caller, &references, &label, at, checks)
            .await?;
        let mut markdown = joined_clauses(&bodies, &layout);
        let found = gsign_render::placeholders(&markdown);
        checks.check_signature_blocks(&found.signature_roles, &signer_roles, &label, at);
        let signer_names = sign_at_the_end(
            &mut markdown,
            &signer_roles,
            &found.signature_roles,
            checks.request.signers,
        );
        let mut texts = checks.texts(&found.variables, &label);
        texts.extend(signer_names);
        Ok(Some(plan_of(
            template,
            signer_roles,
            clauses,
            &layout,
            markdown,
            texts,
        )))
    }

    /// The bodies and versions of the clauses `references` of the template `label` (at `at`
    /// in the request), in order, their problems noted in `checks`.
    async fn resolve_clauses(
        &self,
        client: &(impl Session + ?Sized),
        caller: &Caller,
        references: &[ClauseRef],
        label: &str,
        at: &str,
        checks: &mut Checks<'_>,
    ) -> Result<(Vec<String>, Vec<ResolvedClause>), DocPacksError> {
        let mut bodies = Vec::new();
        let mut clauses = Vec::new();
        for (c, reference) in references.iter().enumerate() {
            let at = format!("{at}/clauses/{c}");
            let clause = match self.resolve_clause(client, caller, reference).await? {
                Ok(clause) => clause,
                Err(problem) => {
                    checks
                        .errors
                        .push(FieldError::new(&at, format!("{label}: {problem}")));
                    continue;
                }
            };
            checks.check_clause(&clause, &at);
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
        Ok((bodies, clauses))
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
