//! `template.yaml` as the local stack reads it: the SAM/CloudFormation document normalised to
//! JSON (short-form tags such as `!Ref` become their long form), the functions and their
//! triggers, and the evaluation of intrinsic functions against local physical resources.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

mod nested;

/// The account id moto always uses.
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// A problem with the template or with evaluating it.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML did not parse.
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// The template is valid YAML but not what the local stack can run.
    #[error("template.yaml: {0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

/// A loaded, normalised template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
    /// The `Globals` environment of the nested stack each folded function came from (functions
    /// of the root template use the root's).
    function_globals: BTreeMap<String, Map<String, Value>>,
}

/// One function of the template.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    /// Logical id, e.g. `ApiHealthFunction`.
    pub logical_id: String,
    /// The function's name, its `Handler`: the key into the function registry and `events/`.
    pub handler: String,
    /// The area binary that serves it (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// `Globals.Function.Environment.Variables` merged with the function's own (unevaluated).
    pub environment: BTreeMap<String, Value>,
    /// `FunctionName` (unevaluated) if set.
    pub function_name: Option<Value>,
    /// Its triggers.
    pub events: Vec<EventDef>,
}

/// One trigger of a function.
#[derive(Debug, Clone)]
pub enum EventDef {
    /// An `HttpApi` route.
    Http {
        /// The event's name in the template.
        name: String,
        /// `GET`, `POST`, ... or `ANY`.
        method: String,
        /// `/v1/things/{id}`, or `$default`.
        path: String,
        /// `Auth.Authorizer` if the route sets one (`NONE` switches the default off).
        authorizer: Option<String>,
    },
    /// An SQS event source.
    Sqs {
        /// The event's name in the template.
        name: String,
        /// The `Queue` value (usually `!GetAtt Queue.Arn`), unevaluated.
        queue: Value,
        /// `BatchSize` (default 10).
        batch_size: i32,
        /// Whether `FunctionResponseTypes` has `ReportBatchItemFailures`.
        report_batch_item_failures: bool,
        /// `ScalingConfig.MaximumConcurrency`: how many batches run at once (default 1
        /// locally, so queues without it keep their order of processing).
        maximum_concurrency: usize,
    },
    /// A `Schedule` / `ScheduleV2` event.
    Schedule {
        /// The event's name in the template.
        name: String,
        /// `rate(...)` or `cron(...)`.
        expression: String,
        /// `Input` (a JSON string) if set.
        input: Option<String>,
        /// `Enabled` / `State` (default enabled).
        enabled: bool,
    },
}

/// The HTTP API's authorizers.
#[derive(Debug, Clone, Default)]
pub struct HttpApiAuth {
    /// Authorizers by name.
    pub authorizers: BTreeMap<String, AuthorizerDef>,
    /// `DefaultAuthorizer`, applied to routes that name none.
    pub default_authorizer: Option<String>,
}

/// A Lambda authorizer of the HTTP API.
#[derive(Debug, Clone)]
pub struct AuthorizerDef {
    /// Logical id of the authorizer function.
    pub function_logical_id: String,
    /// Header names of the identity source (`Identity.Headers`), lowercase.
    pub identity_headers: Vec<String>,
    /// `EnableSimpleResponses`.
    pub simple_responses: bool,
}

fn normalise(value: serde_yaml_ng::Value) -> Result<Value, TemplateError> {
    use serde_yaml_ng::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).map_err(|e| invalid(e.to_string()))?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(normalise).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => return Err(invalid(format!("unsupported mapping key {other:?}"))),
                };
                out.insert(key, normalise(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = normalise(tagged.value)?;
            match name {
                "Ref" => json!({ "Ref": inner }),
                "Condition" => json!({ "Condition": inner }),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (resource, attribute) = s.split_once('.').ok_or_else(|| {
                            invalid(format!("!GetAtt {s}: expected Resource.Attribute"))
                        })?;
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    })
}

fn str_of<'a>(value: &'a Value, what: &str) -> Result<&'a str, TemplateError> {
    value
        .as_str()
        .ok_or_else(|| invalid(format!("{what} must be a string")))
}

impl Template {
    /// Reads and normalises a template file, folding its nested stacks (local
    /// `AWS::Serverless::Application` templates, relative to the file) into it.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut template = Self::parse(&text)?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let folded = nested::fold(&mut template.root, dir)?;
        template.function_globals.extend(folded.function_globals);
        Ok(template)
    }

    /// Parses and normalises template text.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
        let root = normalise(yaml)?;
        if !root.get("Resources").is_some_and(Value::is_object) {
            return Err(invalid("no Resources section"));
        }
        Ok(Self {
            root,
            function_globals: BTreeMap::new(),
        })
    }

    /// `Globals.Function.Environment.Variables` of this template itself.
    fn global_environment(&self) -> Map<String, Value> {
        self.root["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// The normalised document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Every resource as `(logical id, resource)`.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root["Resources"]
            .as_object()
            .into_iter()
            .flat_map(|map| map.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The resources of one CloudFormation type.
    pub fn resources_of_type<'a>(
        &'a self,
        resource_type: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources()
            .filter(move |(_, r)| r["Type"].as_str() == Some(resource_type))
    }

    /// A resource by logical id.
    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.root["Resources"].get(logical_id)
    }

    /// The template's parameters with their defaults.
    pub fn parameter_defaults(&self) -> BTreeMap<String, Option<String>> {
        self.root["Parameters"]
            .as_object()
            .into_iter()
            .flat_map(|map| map.iter())
            .map(|(name, p)| {
                let default = match &p["Default"] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                (name.clone(), default)
            })
            .collect()
    }

    /// Every `AWS::Serverless::Function` with its binary, environment and triggers.
    pub fn functions(&self) -> Result<Vec<FunctionDef>, TemplateError> {
        let global_env = self.global_environment();
        let routes = self.explicit_routes()?;
        let mut out = Vec::new();
        for (logical_id, resource) in self.resources_of_type("AWS::Serverless::Function") {
            let binary = str_of(
                &resource["Metadata"]["BuildProperties"]["Binary"],
                &format!("{logical_id}.Metadata.BuildProperties.Binary"),
            )?
            .to_owned();
            let props = &resource["Properties"];
            let handler = str_of(
                &props["Handler"],
                &format!("{logical_id}.Properties.Handler"),
            )?
            .to_owned();
            let mut environment: BTreeMap<String, Value> = self
                .function_globals
                .get(logical_id)
                .unwrap_or(&global_env)
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(vars) = props["Environment"]["Variables"].as_object() {
                for (k, v) in vars {
                    environment.insert(k.clone(), v.clone());
                }
            }
            let mut events = Vec::new();
            if let Some(map) = props["Events"].as_object() {
                for (name, event) in map {
                    if let Some(event) = event_def(logical_id, name, event)? {
                        events.push(event);
                    }
                }
            }
            events.extend(routes.get(logical_id).into_iter().flatten().cloned());
            out.push(FunctionDef {
                logical_id: logical_id.to_owned(),
                handler,
                binary,
                environment,
                function_name: props.get("FunctionName").cloned(),
                events,
            });
        }
        Ok(out)
    }

    /// `AWS::ApiGatewayV2::Route`s (as the nested stacks declare them: SAM's `HttpApi` events
    /// cannot name another stack's API), by the logical id of the function their integration
    /// calls.
    fn explicit_routes(&self) -> Result<BTreeMap<String, Vec<EventDef>>, TemplateError> {
        let mut routes: BTreeMap<String, Vec<EventDef>> = BTreeMap::new();
        for (route_id, route) in self.resources_of_type("AWS::ApiGatewayV2::Route") {
            let props = &route["Properties"];
            let key = str_of(&props["RouteKey"], &format!("{route_id}.RouteKey"))?;
            let (method, path) = match key.split_once(' ') {
                Some((method, path)) => (method.to_ascii_uppercase(), path.to_owned()),
                None => ("ANY".to_owned(), key.to_owned()),
            };
            let integration_id =
                sub_target(&props["Target"], "integrations/").ok_or_else(|| {
                    invalid(format!(
                        "{route_id}.Target must be !Sub integrations/${{Integration}}"
                    ))
                })?;
            let integration = self
                .resource(&integration_id)
                .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Integration")
                .ok_or_else(|| {
                    invalid(format!(
                        "{route_id}: {integration_id} is not an integration"
                    ))
                })?;
            let function =
                getatt_arn(&integration["Properties"]["IntegrationUri"]).ok_or_else(|| {
                    invalid(format!(
                        "{integration_id}.IntegrationUri must be !GetAtt Function.Arn"
                    ))
                })?;
            // API Gateway's default is no authorization: say so, so no default applies.
            let authorizer = match props["AuthorizationType"].as_str().unwrap_or("NONE") {
                "NONE" => "NONE".to_owned(),
                "CUSTOM" => props["AuthorizerId"]["Ref"]
                    .as_str()
                    .ok_or_else(|| invalid(format!("{route_id}.AuthorizerId must be a !Ref")))?
                    .to_owned(),
                other => {
                    return Err(invalid(format!(
                        "{route_id}: AuthorizationType {other} is not supported by the local runner"
                    )))
                }
            };
            routes.entry(function).or_default().push(EventDef::Http {
                name: route_id.to_owned(),
                method,
                path,
                authorizer: Some(authorizer),
            });
        }
        Ok(routes)
    }

    /// The authorizers of the (single) HTTP API.
    pub fn http_api_auth(&self) -> Result<HttpApiAuth, TemplateError> {
        let mut auth = HttpApiAuth::default();
        for (authorizer_id, def) in self.resources_of_type("AWS::ApiGatewayV2::Authorizer") {
            let props = &def["Properties"];
            let function_logical_id = sub_getatt_arn(&props["AuthorizerUri"]).ok_or_else(|| {
                invalid(format!(
                    "{authorizer_id}.AuthorizerUri must name ${{Function.Arn}} in a !Sub"
                ))
            })?;
            let identity_headers = props["IdentitySource"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|source| source.strip_prefix("$request.header."))
                .map(str::to_ascii_lowercase)
                .collect();
            auth.authorizers.insert(
                authorizer_id.to_owned(),
                AuthorizerDef {
                    function_logical_id,
                    identity_headers,
                    simple_responses: props["EnableSimpleResponses"].as_bool() == Some(true),
                },
            );
        }
        for (api_id, api) in self.resources_of_type("AWS::Serverless::HttpApi") {
            let section = &api["Properties"]["Auth"];
            if let Some(default) = section["DefaultAuthorizer"].as_str() {
                auth.default_authorizer = Some(default.to_owned());
            }
            if let Some(map) = section["Authorizers"].as_object() {
                for (name, def) in map {
                    let function_logical_id = match &def["FunctionArn"]["Fn::GetAtt"] {
                        Value::Array(parts) if parts.len() == 2 => {
                            str_of(&parts[0], "FunctionArn")?.to_owned()
                        }
                        _ => {
                            return Err(invalid(format!(
                            "{api_id} authorizer {name}: FunctionArn must be !GetAtt Function.Arn"
                        )))
                        }
                    };
                    let identity_headers = def["Identity"]["Headers"]
                        .as_array()
                        .map(|hs| {
                            hs.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_ascii_lowercase)
                                .collect()
                        })
                        .unwrap_or_else(|| vec!["authorization".to_owned()]);
                    auth.authorizers.insert(
                        name.clone(),
                        AuthorizerDef {
                            function_logical_id,
                            identity_headers,
                            simple_responses: def["EnableSimpleResponses"].as_bool() == Some(true),
                        },
                    );
                }
            }
        }
        if let Some(default) = &auth.default_authorizer {
            if !auth.authorizers.contains_key(default) {
                return Err(invalid(format!(
                    "DefaultAuthorizer {default} is not declared"
                )));
            }
        }
        Ok(auth)
    }
}

/// The text of a `Fn::Sub` (either form).
fn sub_text(value: &Value) -> Option<&str> {
    match &value["Fn::Sub"] {
        Value::String(text) => Some(text),
        Value::Array(parts) => parts.first().and_then(Value::as_str),
        _ => None,
    }
}

/// `X` of `!Sub <prefix>${X}`.
fn sub_target(value: &Value, prefix: &str) -> Option<String> {
    sub_text(value)?
        .strip_prefix(prefix)?
        .strip_prefix("${")?
        .strip_suffix('}')
        .map(str::to_owned)
}

/// `F` of `!GetAtt F.Arn`.
fn getatt_arn(value: &Value) -> Option<String> {
    match value["Fn::GetAtt"].as_array().map(Vec::as_slice) {
        Some([Value::String(resource), attribute]) if attribute == "Arn" => Some(resource.clone()),
        _ => None,
    }
}

/// `F` of a `!Sub` naming `${F.Arn}`.
fn sub_getatt_arn(value: &Value) -> Option<String> {
    let text = sub_text(value)?;
    let end = text.find(".Arn}")?;
    let start = text[..end].rfind("${")? + 2;
    Some(text[start..end].to_owned())
}

fn event_def(function: &str, name: &str, event: &Value) -> Result<Option<EventDef>, TemplateError> {
    let props = &event["Properties"];
    let at = format!("{function}.Events.{name}");
    Ok(match event["Type"].as_str() {
        Some("HttpApi") => Some(EventDef::Http {
            name: name.to_owned(),
            method: props["Method"]
                .as_str()
                .unwrap_or("ANY")
                .to_ascii_uppercase(),
            path: props["Path"].as_str().unwrap_or("$default").to_owned(),
            authorizer: props["Auth"]["Authorizer"].as_str().map(str::to_owned),
        }),
        Some("SQS") => {
            let batch_size = props["BatchSize"].as_i64().unwrap_or(10);
            let batch_size = i32::try_from(batch_size)
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| invalid(format!("{at}: BatchSize out of range")))?;
            let report_batch_item_failures = props["FunctionResponseTypes"]
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures"));
            Some(EventDef::Sqs {
                name: name.to_owned(),
                queue: props["Queue"].clone(),
                batch_size,
                report_batch_item_failures,
                maximum_concurrency: props["ScalingConfig"]["MaximumConcurrency"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(1)
                    .clamp(1, 16),
            })
        }
        Some("Schedule") | Some("ScheduleV2") => {
            let expression = props["Schedule"]
                .as_str()
                .or_else(|| props["ScheduleExpression"].as_str())
                .ok_or_else(|| invalid(format!("{at}: Schedule expression missing")))?
                .to_owned();
            let enabled = props["Enabled"].as_bool().unwrap_or(true)
                && props["State"].as_str().unwrap_or("ENABLED") == "ENABLED";
            Some(EventDef::Schedule {
                name: name.to_owned(),
                expression,
                input: props["Input"].as_str().map(str::to_owned),
                enabled,
            })
        }
        Some(other) => {
            return Err(invalid(format!(
                "{at}: event type {other} is not supported by the local runner"
            )))
        }
        None => return Err(invalid(format!("{at}: missing Type"))),
    })
}

/// What a resource evaluates to locally: its `Ref` and its `GetAtt` attributes.
#[derive(Debug, Clone, Default)]
pub struct PhysicalResource {
    /// The value of `!Ref`.
    pub reference: String,
    /// `!GetAtt` attributes.
    pub attributes: BTreeMap<String, String>,
}

/// Evaluates intrinsic functions with local values.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// Stack name (`AWS::StackName`).
    pub stack_name: String,
    /// Region (`AWS::Region`).
    pub region: String,
    /// Parameter values (overrides already applied over defaults).
    pub parameters: BTreeMap<String, String>,
    /// Physical resources by logical id.
    pub physical: BTreeMap<String, PhysicalResource>,
    conditions: Map<String, Value>,
}

impl Resolver {
    /// A resolver for `template` with parameter `overrides` (which win over defaults).
    /// Parameters with neither a default nor an override are an error, as in CloudFormation.
    pub fn new(
        template: &Template,
        stack_name: &str,
        region: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, TemplateError> {
        let mut parameters = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, default) in template.parameter_defaults() {
            match overrides.get(&name).cloned().or(default) {
                Some(value) => {
                    parameters.insert(name, value);
                }
                None => missing.push(name),
            }
        }
        if !missing.is_empty() {
            return Err(invalid(format!(
                "parameters without a value: {}",
                missing.join(", ")
            )));
        }
        Ok(Self {
            stack_name: stack_name.to_owned(),
            region: region.to_owned(),
            parameters,
            physical: BTreeMap::new(),
            conditions: template.root["Conditions"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        })
    }

    fn reference(&self, name: &str) -> Result<Value, TemplateError> {
        Ok(match name {
            "AWS::StackName" => Value::String(self.stack_name.clone()),
            "AWS::Region" => Value::String(self.region.clone()),
            "AWS::AccountId" => Value::String(LOCAL_ACCOUNT.to_owned()),
            "AWS::Partition" => Value::String("aws".to_owned()),
            "AWS::URLSuffix" => Value::String("amazonaws.com".to_owned()),
            "AWS::NoValue" => Value::Null,
            _ => {
                if let Some(value) = self.parameters.get(name) {
                    Value::String(value.clone())
                } else if let Some(resource) = self.physical.get(name) {
                    Value::String(resource.reference.clone())
                } else {
                    return Err(invalid(format!(
                        "!Ref {name}: no such parameter or resource"
                    )));
                }
            }
        })
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<Value, TemplateError> {
        self.physical
            .get(resource)
            .and_then(|r| r.attributes.get(attribute))
            .map(|v| Value::String(v.clone()))
            .ok_or_else(|| invalid(format!("!GetAtt {resource}.{attribute} is unknown locally")))
    }

    fn sub(&self, text: &str, vars: &Map<String, Value>) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            // `${!Literal}` writes `${Literal}`.
            if let Some(literal) = after.strip_prefix('!') {
                let end = literal
                    .find('}')
                    .ok_or_else(|| invalid(format!("unterminated ${{ in {text:?}")))?;
                out.push_str("${");
                out.push_str(&literal[..=end]);
                rest = &literal[end + 1..];
                continue;
            }
            let end = after
                .find('}')
                .ok_or_else(|| invalid(format!("unterminated ${{ in {text:?}")))?;
            let name = &after[..end];
            let value = if let Some(v) = vars.get(name) {
                self.eval(v)?
            } else if let Some((resource, attribute)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                self.attribute(resource, attribute)?
            } else {
                self.reference(name)?
            };
            out.push_str(&scalar_string(&value)?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Evaluates a named condition.
    pub fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let definition = self
            .conditions
            .get(name)
            .ok_or_else(|| invalid(format!("condition {name} is not declared")))?;
        self.truth(definition)
    }

    fn truth(&self, value: &Value) -> Result<bool, TemplateError> {
        let Some((key, arg)) = single_key(value) else {
            return Err(invalid(format!("not a condition: {value}")));
        };
        match key {
            "Condition" => self.condition(str_of(arg, "Condition")?),
            "Fn::Equals" => match arg.as_array().map(Vec::as_slice) {
                Some([a, b]) => Ok(self.eval(a)? == self.eval(b)?),
                _ => Err(invalid("Fn::Equals needs two values")),
            },
            "Fn::Not" => match arg.as_array().map(Vec::as_slice) {
                Some([inner]) => Ok(!self.truth(inner)?),
                _ => Err(invalid("Fn::Not needs one condition")),
            },
            "Fn::And" | "Fn::Or" => {
                let items = arg
                    .as_array()
                    .ok_or_else(|| invalid(format!("{key} needs a list")))?;
                let values = items
                    .iter()
                    .map(|c| self.truth(c))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if key == "Fn::And" {
                    values.into_iter().all(|v| v)
                } else {
                    values.into_iter().any(|v| v)
                })
            }
            other => Err(invalid(format!("{other} is not a condition function"))),
        }
    }

    /// Evaluates every intrinsic function in `value`. `AWS::NoValue` removes the member.
    pub fn eval(&self, value: &Value) -> Result<Value, TemplateError> {
        if let Some((key, arg)) = single_key(value) {
            match key {
                "Ref" => return self.reference(str_of(arg, "Ref")?),
                "Fn::GetAtt" => {
                    return match arg.as_array().map(Vec::as_slice) {
                        Some([Value::String(r), Value::String(a)]) => self.attribute(r, a),
                        _ => Err(invalid(format!("bad Fn::GetAtt {arg}"))),
                    }
                }
                "Fn::Sub" => {
                    return Ok(Value::String(match arg {
                        Value::String(text) => self.sub(text, &Map::new())?,
                        Value::Array(parts) => match parts.as_slice() {
                            [Value::String(text), Value::Object(vars)] => self.sub(text, vars)?,
                            _ => return Err(invalid("Fn::Sub [text, {vars}] expected")),
                        },
                        _ => return Err(invalid("Fn::Sub needs a string")),
                    }))
                }
                "Fn::If" => {
                    return match arg.as_array().map(Vec::as_slice) {
                        Some([Value::String(cond), then, otherwise]) => {
                            if self.condition(cond)? {
                                self.eval(then)
                            } else {
                                self.eval(otherwise)
                            }
                        }
                        _ => Err(invalid("Fn::If [condition, then, else] expected")),
                    }
                }
                "Fn::Join" => {
                    return match arg.as_array().map(Vec::as_slice) {
                        Some([Value::String(delimiter), list]) => {
                            let items = match self.eval(list)? {
                                Value::Array(items) => items,
                                other => vec![other],
                            };
                            let parts = items
                                .iter()
                                .map(scalar_string)
                                .collect::<Result<Vec<_>, _>>()?;
                            Ok(Value::String(parts.join(delimiter)))
                        }
                        _ => Err(invalid("Fn::Join [delimiter, list] expected")),
                    }
                }
                "Fn::Select" => {
                    return match arg.as_array().map(Vec::as_slice) {
                        Some([index, list]) => {
                            let index = scalar_string(&self.eval(index)?)?
                                .parse::<usize>()
                                .map_err(|_| invalid("Fn::Select index must be a number"))?;
                            match self.eval(list)? {
                                Value::Array(items) => items
                                    .get(index)
                                    .cloned()
                                    .ok_or_else(|| invalid("Fn::Select index out of range")),
                                _ => Err(invalid("Fn::Select needs a list")),
                            }
                        }
                        _ => Err(invalid("Fn::Select [index, list] expected")),
                    }
                }
                _ if key.starts_with("Fn::") => {
                    return Err(invalid(format!(
                        "{key} is not supported by the local stack"
                    )))
                }
                _ => {}
            }
        }
        Ok(match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.eval(v))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .filter(|v| !v.is_null())
                    .collect(),
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let v = self.eval(v)?;
                    if !v.is_null() {
                        out.insert(k.clone(), v);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Evaluates `value` to a string (numbers and booleans as text).
    pub fn eval_string(&self, value: &Value) -> Result<String, TemplateError> {
        scalar_string(&self.eval(value)?)
    }
}

fn single_key(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let (key, arg) = map.iter().next()?;
    (key == "Ref" || key == "Condition" || key.starts_with("Fn::")).then_some((key.as_str(), arg))
}

fn scalar_string(value: &Value) -> Result<String, TemplateError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(invalid(format!("expected a scalar, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
Parameters:
  Stage: {Type: String, Default: dev}
  Subnets: {Type: CommaDelimitedList, Default: ""}
  Secret: {Type: String}
Conditions:
  InVpc: !Not [!Equals [!Join ["", !Ref Subnets], ""]]
Globals:
  Function:
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub ${AWS::StackName}-jobs-${Stage}
  Worker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: gsign-jobs}}
    Properties:
      Handler: sqs-work
      Environment:
        Variables:
          QUEUE_ARN: !GetAtt Queue.Arn
          SECRET: !Ref Secret
          VPC: !If [InVpc, "yes", !Ref AWS::NoValue]
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
        Nightly:
          Type: Schedule
          Properties: {Schedule: cron(0 3 * * ? *)}
"#;

    fn resolver(template: &Template) -> Resolver {
        let overrides = BTreeMap::from([("Secret".to_owned(), "s3cret".to_owned())]);
        let mut r = Resolver::new(template, "gs", "eu-west-1", &overrides).expect("resolver");
        r.physical.insert(
            "Queue".to_owned(),
            PhysicalResource {
                reference: "http://q".to_owned(),
                attributes: BTreeMap::from([(
                    "Arn".to_owned(),
                    "arn:aws:sqs:eu-west-1:123456789012:gs-jobs-dev".to_owned(),
                )]),
            },
        );
        r
    }

    #[test]
    fn short_form_tags_are_normalised_and_functions_are_read() {
        let template = Template::parse(SAMPLE).expect("parses");
        let functions = template.functions().expect("functions");
        assert_eq!(functions.len(), 1);
        let worker = &functions[0];
        assert_eq!(worker.handler, "sqs-work");
        assert_eq!(worker.binary, "gsign-jobs");
        assert_eq!(worker.environment["STAGE"], json!({"Ref": "Stage"}));
        assert!(matches!(
            &worker.events[..],
            [
                EventDef::Sqs {
                    batch_size: 5,
                    report_batch_item_failures: true,
                    ..
                },
                EventDef::Schedule { enabled: true, .. }
            ]
        ));
    }

    #[test]
    fn intrinsics_evaluate_against_parameters_pseudo_parameters_and_resources() {
        let template = Template::parse(SAMPLE).expect("parses");
        let r = resolver(&template);
        let name = &template.resource("Queue").expect("queue")["Properties"]["QueueName"];
        assert_eq!(r.eval_string(name).expect("sub"), "gs-jobs-dev");
        let env = &template.functions().expect("functions")[0].environment;
        assert_eq!(
            r.eval_string(&env["QUEUE_ARN"]).expect("getatt"),
            "arn:aws:sqs:eu-west-1:123456789012:gs-jobs-dev"
        );
        assert_eq!(r.eval_string(&env["SECRET"]).expect("override"), "s3cret");
        // Subnets is empty, so InVpc is false and the variable disappears.
        assert!(r.eval(&env["VPC"]).expect("if").is_null());
    }

    #[test]
    fn parameters_without_value_are_reported_by_name() {
        let template = Template::parse(SAMPLE).expect("parses");
        let err = Resolver::new(&template, "gs", "eu-west-1", &BTreeMap::new())
            .expect_err("Secret has no default");
        assert!(err.to_string().contains("Secret"), "{err}");
    }

    #[test]
    fn unknown_references_are_errors_not_empty_strings() {
        let template = Template::parse(SAMPLE).expect("parses");
        let r = resolver(&template);
        assert!(r.eval(&json!({"Ref": "Nope"})).is_err());
        assert!(r.eval(&json!({"Fn::GetAtt": ["Queue", "Nope"]})).is_err());
    }

    const ROOT: &str = r#"
Parameters:
  Subnets: {Type: CommaDelimitedList, Default: ""}
Conditions:
  InVpc: !Not [!Equals [!Join ["", !Ref Subnets], ""]]
Globals:
  Function:
    Environment:
      Variables:
        FROM_ROOT: "yes"
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: HTTP}
  Authorize:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: gsign-accounts}}
    Properties: {FunctionName: !Sub "${AWS::StackName}-api-authorize", Handler: api-authorize}
  Authorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Authorize.Arn}/invocations
      EnableSimpleResponses: true
      IdentitySource: [$request.header.Authorization]
  Jobs:
    Type: AWS::SQS::Queue
  Area:
    Type: AWS::Serverless::Application
    Properties:
      Location: area.yaml
      Parameters:
        StackName: !Ref AWS::StackName
        HttpApi: !Ref Api
        HttpApiAuthorizer: !Ref Authorizer
        Jobs: !Ref Jobs
        JobsArn: !GetAtt Jobs.Arn
        Subnets: !Join [",", !Ref Subnets]
Outputs:
  Worker:
    Value: !GetAtt Area.Outputs.WorkerName
"#;

    const AREA: &str = r#"
Parameters:
  StackName: {Type: String}
  HttpApi: {Type: String}
  HttpApiAuthorizer: {Type: String}
  Jobs: {Type: String}
  JobsArn: {Type: String}
  Subnets: {Type: CommaDelimitedList, Default: ""}
  Greeting: {Type: String, Default: hello}
Conditions:
  InVpc: !Equals [!Join ["", !Ref Subnets], "never"]
Globals:
  Function:
    Environment:
      Variables:
        STACK: !Ref StackName
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: gsign-jobs}}
    Properties:
      FunctionName: !Sub ${StackName}-sqs-work
      Handler: sqs-work
      Environment:
        Variables:
          QUEUE_URL: !Ref Jobs
          GREETING: !Ref Greeting
          VPC: !If [InVpc, "child says yes", "child says no"]
      Events:
        Jobs:
          Type: SQS
          Properties: {Queue: !Ref JobsArn}
  Hello:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: gsign-jobs}}
    Properties: {FunctionName: !Sub "${StackName}-api-hello", Handler: api-hello}
  HelloIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref HttpApi, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Hello.Arn}
  HelloRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref HttpApi
      RouteKey: GET /v1/hello/{name}
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref HttpApiAuthorizer
      Target: !Sub integrations/${HelloIntegration}
  OpenRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref HttpApi
      RouteKey: POST /v1/hello
      Target: !Sub integrations/${HelloIntegration}
Outputs:
  WorkerName:
    Value: !Ref Worker
"#;

    fn nested_template(root: &str, area: &str) -> Result<Template, TemplateError> {
        let dir = std::env::temp_dir().join(format!(
            "gsign-template-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("template.yaml"), root).expect("root");
        std::fs::write(dir.join("area.yaml"), area).expect("area");
        let template = Template::load(&dir.join("template.yaml"));
        std::fs::remove_dir_all(&dir).expect("cleaned up");
        template
    }

    #[test]
    fn nested_stacks_are_folded_with_the_parameters_the_parent_passes() {
        let template = nested_template(ROOT, AREA).expect("loads");
        assert!(template
            .resources_of_type("AWS::Serverless::Application")
            .next()
            .is_none());
        let mut r =
            Resolver::new(&template, "gs", "eu-west-1", &BTreeMap::new()).expect("resolver");
        for (id, physical) in [("Jobs", "https://sqs/jobs"), ("Worker", "gs-sqs-work")] {
            r.physical.insert(
                id.to_owned(),
                PhysicalResource {
                    reference: physical.to_owned(),
                    attributes: BTreeMap::from([("Arn".to_owned(), format!("arn:{id}"))]),
                },
            );
        }
        let functions = template.functions().expect("functions");
        let worker = functions
            .iter()
            .find(|f| f.logical_id == "Worker")
            .expect("worker");
        let env = |name: &str| r.eval_string(&worker.environment[name]).expect(name);
        assert_eq!(env("QUEUE_URL"), "https://sqs/jobs");
        assert_eq!(
            env("GREETING"),
            "hello",
            "a parameter not passed takes its default"
        );
        assert_eq!(
            env("STACK"),
            "gs",
            "the child's Globals apply to its functions"
        );
        assert!(
            !worker.environment.contains_key("FROM_ROOT"),
            "not the root's Globals"
        );
        assert_eq!(env("VPC"), "child says no", "the child's own condition");
        assert_eq!(
            r.eval_string(worker.function_name.as_ref().expect("name"))
                .expect("name"),
            "gs-sqs-work"
        );
        let EventDef::Sqs { queue, .. } = &worker.events[0] else {
            panic!("an SQS event")
        };
        assert_eq!(r.eval_string(queue).expect("queue"), "arn:Jobs");
        assert_eq!(
            r.eval_string(&template.root()["Outputs"]["Worker"]["Value"])
                .expect("output"),
            "gs-sqs-work"
        );
        let root_function = functions
            .iter()
            .find(|f| f.logical_id == "Authorize")
            .expect("root");
        assert!(root_function.environment.contains_key("FROM_ROOT"));
    }

    #[test]
    fn api_gateway_routes_reach_their_function_and_authorizer() {
        let template = nested_template(ROOT, AREA).expect("loads");
        let functions = template.functions().expect("functions");
        let hello = functions
            .iter()
            .find(|f| f.logical_id == "Hello")
            .expect("hello");
        let mut routes: Vec<(String, String, Option<String>)> = hello
            .events
            .iter()
            .map(|e| match e {
                EventDef::Http {
                    method,
                    path,
                    authorizer,
                    ..
                } => (method.clone(), path.clone(), authorizer.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        routes.sort();
        assert_eq!(
            routes,
            [
                (
                    "GET".to_owned(),
                    "/v1/hello/{name}".to_owned(),
                    Some("Authorizer".to_owned())
                ),
                (
                    "POST".to_owned(),
                    "/v1/hello".to_owned(),
                    Some("NONE".to_owned())
                ),
            ]
        );
        let auth = template.http_api_auth().expect("auth");
        let authorizer = &auth.authorizers["Authorizer"];
        assert_eq!(authorizer.function_logical_id, "Authorize");
        assert_eq!(authorizer.identity_headers, ["authorization"]);
        assert!(authorizer.simple_responses);
    }

    #[test]
    fn a_nested_stack_missing_a_parameter_or_repeating_an_id_is_refused() {
        let missing = nested_template(
            ROOT,
            &AREA.replace(
                "  Jobs: {Type: String}",
                "  Jobs: {Type: String}\n  Extra: {Type: String}",
            ),
        )
        .expect_err("Extra has no value");
        assert!(missing.to_string().contains("Extra"), "{missing}");
        let clash = nested_template(
            &ROOT.replace(
                "  Jobs:\n    Type: AWS::SQS::Queue",
                "  Jobs:\n    Type: AWS::SQS::Queue\n  Hello:\n    Type: AWS::SQS::Queue",
            ),
            AREA,
        )
        .expect_err("Hello twice");
        assert!(clash.to_string().contains("Hello"), "{clash}");
    }
}
