//! The HTTP API as data: each area's route table holds its operations ([`Operation`]),
//! and [`document`] turns every area's list into the OpenAPI 3.1 document
//! (`docs/openapi.json`, served at `GET /v1/openapi.json`). Bodies are described by the very
//! Rust types the handlers parse and answer with (`schemars`), so the document cannot drift
//! from the code; a test holds the operations against `template.yaml`'s routes.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::problem::Problem;

/// Writes the JSON Schema of a type (a `$ref` into `components/schemas` for named types).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The [`SchemaFn`] of `T`.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A member's session or an organization's API key (`Authorization: Bearer …`), checked by
    /// the API's authorizer.
    Caller,
    /// Anyone: the route authenticates by what it is given (a signing link's token in the
    /// path, an emailed token in the body, a provider's signature) or is public.
    Public,
}

/// The successful answer of an operation.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// A JSON body of this schema with this status.
    Json(u16, SchemaFn),
    /// No body (`204 No Content`, or `202`).
    Empty(u16),
    /// A body of another media type (e.g. `text/csv`), described in words.
    Other(u16, &'static str, &'static str),
}

/// One route of the HTTP API, as clients see it.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The function serving it (its `Handler` in the templates), also the `operationId`.
    pub function: &'static str,
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// `/v1/envelopes/{id}`, API Gateway's syntax.
    pub path: &'static str,
    /// One line: what the operation does.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// An object type whose members are the query parameters, if any.
    pub query: Option<SchemaFn>,
    /// The JSON request body, if any.
    pub body: Option<SchemaFn>,
    /// Whether the body may be left out (it then means `{}`).
    pub body_optional: bool,
    /// Another media type the body may have instead of JSON (e.g. `application/pdf`), with
    /// what it holds.
    pub other_body: Option<(&'static str, &'static str)>,
    /// The answer when it succeeds.
    pub reply: Reply,
    /// Another media type of the same successful answer (e.g. PEM when asked for), with when.
    pub other_reply: Option<(&'static str, &'static str)>,
    /// Another status of the same successful answer (e.g. 200 when it already existed), with
    /// when.
    pub other_status: Option<(u16, &'static str)>,
}

impl Operation {
    /// An operation with no query and no body answering `reply`; refine with the `with_*`
    /// methods.
    pub const fn new(
        function: &'static str,
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        reply: Reply,
    ) -> Self {
        Self {
            function,
            method,
            path,
            summary,
            access: Access::Caller,
            query: None,
            body: None,
            body_optional: false,
            other_body: None,
            reply,
            other_reply: None,
            other_status: None,
        }
    }

    /// The same operation with a JSON request body of type `body`.
    pub const fn with_body(mut self, body: SchemaFn) -> Self {
        self.body = Some(body);
        self
    }

    /// The same operation with a JSON request body that may be left out.
    pub const fn with_optional_body(mut self, body: SchemaFn) -> Self {
        self.body = Some(body);
        self.body_optional = true;
        self
    }

    /// The same operation accepting, instead of its JSON body, a body of `media_type`.
    pub const fn also_accepting(mut self, media_type: &'static str, what: &'static str) -> Self {
        self.other_body = Some((media_type, what));
        self
    }

    /// The same operation answering, on request, `media_type` instead of its JSON.
    pub const fn also_answering(mut self, media_type: &'static str, when: &'static str) -> Self {
        self.other_reply = Some((media_type, when));
        self
    }

    /// The same operation answering its success body with `status` too, in the case `when`.
    pub const fn or_status(mut self, status: u16, when: &'static str) -> Self {
        self.other_status = Some((status, when));
        self
    }

    /// The same operation with the members of `query` as query parameters.
    pub const fn with_query(mut self, query: SchemaFn) -> Self {
        self.query = Some(query);
        self
    }

    /// The same operation callable without credentials.
    pub const fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }
}

/// One area's operations, named for the document's tags.
#[derive(Debug, Clone)]
pub struct Area {
    /// The tag (e.g. `envelopes`).
    pub name: &'static str,
    /// What the area is for, in a sentence.
    pub description: &'static str,
    /// Its operations.
    pub operations: Vec<Operation>,
}

/// The OpenAPI 3.1 document of `areas`.
pub fn document(areas: &[Area]) -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    let problem = generator.subschema_for::<Problem>().to_value();

    let mut paths = Map::new();
    let mut tags = Vec::new();
    for area in areas {
        tags.push(json!({"name": area.name, "description": area.description}));
        for operation in &area.operations {
            let item = paths
                .entry(operation.path.to_owned())
                .or_insert_with(|| json!({}));
            item[operation.method.to_ascii_lowercase()] =
                operation_object(area.name, operation, &problem, &mut generator);
        }
    }
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    schemas.insert(
        "GatewayMessage".to_owned(),
        json!({
            "description": "API Gateway's own refusal, before any function runs (`{\"message\":\"Unauthorized\"}`).",
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "GSign API",
            "version": "1",
            "summary": "Documents, envelopes, recipients, fields, PAdES signatures, evidence and webhooks.",
            "description": "Every error is an RFC 9457 problem (`application/problem+json`); its `type` URIs are listed in docs/problems.md. List routes page with an opaque `cursor`. Creating requests accept an `Idempotency-Key` header.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "The API's origin (the web app's, behind CloudFront)."}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session's access token (`POST /v1/auth/login`) or an organization's API key (`POST /v1/api-keys`).",
                },
            },
        },
    })
}

fn operation_object(
    tag: &str,
    operation: &Operation,
    problem: &Value,
    generator: &mut SchemaGenerator,
) -> Value {
    let mut parameters: Vec<Value> = path_parameters(operation.path);
    if let Some(query) = operation.query {
        // Query parameters are listed one by one: their schemas inline, nothing of them left
        // in `components`.
        let mut settings = generator.settings().clone();
        settings.inline_subschemas = true;
        let mut inline = settings.into_generator();
        parameters.extend(query_parameters(query(&mut inline), &inline));
    }
    let mut responses = Map::new();
    match operation.reply {
        Reply::Json(status, schema) => {
            responses.insert(
                status.to_string(),
                json!({
                    "description": reason(status),
                    "content": {"application/json": {"schema": schema(generator).to_value()}},
                }),
            );
        }
        Reply::Empty(status) => {
            responses.insert(status.to_string(), json!({"description": reason(status)}));
        }
        Reply::Other(status, media_type, description) => {
            responses.insert(
                status.to_string(),
                json!({
                    "description": description,
                    "content": {media_type: {"schema": {"type": "string"}}},
                }),
            );
        }
    }
    if let Some((media_type, when)) = operation.other_reply {
        let status = match operation.reply {
            Reply::Json(status, _) | Reply::Empty(status) | Reply::Other(status, _, _) => status,
        };
        if let Some(content) = responses
            .get_mut(&status.to_string())
            .and_then(|response| response.get_mut("content"))
            .and_then(Value::as_object_mut)
        {
            content.insert(
                media_type.to_owned(),
                json!({"schema": {"type": "string", "description": when}}),
            );
        }
    }
    if let Some((status, when)) = operation.other_status {
        if let Some(mut same) = responses.values().next().cloned() {
            same["description"] = Value::String(when.to_owned());
            responses.insert(status.to_string(), same);
        }
    }
    responses.insert(
        "4XX".to_owned(),
        json!({
            "description": "The request cannot be answered as asked: the problem says why.",
            "content": {"application/problem+json": {"schema": problem}},
        }),
    );
    if operation.access == Access::Caller {
        // Before any function runs, API Gateway's authorizer answers these itself, in its own
        // format; the functions answer them as problems.
        for (status, why) in [
            (
                401,
                "No credentials, or credentials that are not valid (expired, revoked).",
            ),
            (
                403,
                "Credentials valid, but not for this organization, route or scope.",
            ),
        ] {
            responses.insert(
                status.to_string(),
                json!({
                    "description": why,
                    "content": {
                        "application/problem+json": {"schema": problem},
                        "application/json": {"schema": {"$ref": "#/components/schemas/GatewayMessage"}},
                    },
                }),
            );
        }
    }
    let mut object = json!({
        "operationId": operation.function,
        "summary": operation.summary,
        "tags": [tag],
        "responses": responses,
    });
    if !parameters.is_empty() {
        object["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = operation.body {
        let mut content = json!({"application/json": {"schema": body(generator).to_value()}});
        if let Some((media_type, what)) = operation.other_body {
            content[media_type] = json!({
                "schema": {"type": "string", "contentMediaType": media_type, "description": what},
            });
        }
        object["requestBody"] = json!({
            "required": !operation.body_optional,
            "content": content,
        });
    }
    object["security"] = match operation.access {
        Access::Caller => json!([{"bearer": []}]),
        Access::Public => json!([]),
    };
    object
}

/// `{name}` segments of a path: ids are UUIDs, the rest strings.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = if name == "id" || name.ends_with("_id") {
                json!({"type": "string", "format": "uuid"})
            } else {
                json!({"type": "string", "minLength": 1})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

/// The members of an object schema (resolved if it is a `$ref`) as query parameters.
fn query_parameters(schema: Schema, generator: &SchemaGenerator) -> Vec<Value> {
    let value = schema.to_value();
    let resolved = value["$ref"]
        .as_str()
        .and_then(|reference| reference.rsplit('/').next())
        .and_then(|name| generator.definitions().get(name).cloned())
        .unwrap_or(value);
    let required: Vec<&str> = resolved["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    resolved["properties"]
        .as_object()
        .map(|members| {
            members
                .iter()
                .map(|(name, member)| {
                    let mut member = without_null(member.clone());
                    let description = member.as_object_mut().and_then(|m| m.remove("description"));
                    let mut parameter = json!({
                        "name": name,
                        "in": "query",
                        "required": required.contains(&name.as_str()),
                        "schema": member,
                    });
                    if let Some(description) = description {
                        parameter["description"] = description;
                    }
                    parameter
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A query parameter is absent or has a value: `Option`'s `null` alternative does not apply.
fn without_null(mut schema: Value) -> Value {
    if let Some(types) = schema["type"].as_array() {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        schema["type"] = match types.as_slice() {
            [single] => single.clone(),
            _ => Value::Array(types),
        };
    }
    if let Some(alternatives) = schema["anyOf"].as_array() {
        let rest: Vec<&Value> = alternatives
            .iter()
            .filter(|a| a["type"] != "null")
            .collect();
        if let [only] = rest.as_slice() {
            let description = schema.get("description").cloned();
            let mut only = (*only).clone();
            if let (Some(description), Some(map)) = (description, only.as_object_mut()) {
                map.insert("description".to_owned(), description);
            }
            return only;
        }
    }
    schema
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted: the work continues in the background",
        204 => "No Content",
        _ => "Success",
    }
}
