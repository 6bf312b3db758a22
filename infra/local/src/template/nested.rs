//! Nested stacks (`AWS::Serverless::Application` with a local template) folded into their
//! parent, so the runner and provisioning see one set of resources.
//!
//! CloudFormation evaluates a nested stack's parameters in the parent and hands the child plain
//! values; folding does the same symbolically: every `Ref` to a child parameter becomes the
//! expression the parent passes (so `!Ref AuditQueue` in the child is the parent's
//! `!Ref AuditQueue` again), conditions are renamed `<Stack>.<Condition>` so each stack keeps
//! its own, and `!GetAtt Stack.Outputs.Name` in the parent becomes the child's output value.
//! Each child keeps its own `Globals`: they are recorded per function.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::{invalid, str_of, Template, TemplateError};

/// What folding a parent's nested stacks produced besides the merged resources.
#[derive(Debug, Default)]
pub(super) struct Folded {
    /// `Globals.Function.Environment.Variables` of the stack each folded function came from,
    /// already rewritten into the parent's terms.
    pub function_globals: BTreeMap<String, Map<String, Value>>,
}

/// Folds every `AWS::Serverless::Application` of `root` whose `Location` is a local file
/// (relative to `dir`) into `root`. Children are folded recursively first.
pub(super) fn fold(root: &mut Value, dir: &Path) -> Result<Folded, TemplateError> {
    let mut folded = Folded::default();
    let applications: Vec<(String, Value)> = root["Resources"]
        .as_object()
        .into_iter()
        .flat_map(|map| map.iter())
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Application")
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    let mut outputs: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (stack_id, application) in applications {
        let properties = &application["Properties"];
        let location = str_of(
            &properties["Location"],
            &format!("{stack_id}.Properties.Location"),
        )?;
        let child_path = dir.join(location);
        let child = Template::load(&child_path)?;
        let child_name = child_path.display().to_string();
        let passed = properties["Parameters"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let rewrite = Rewrite::new(&stack_id, &child_name, child.root(), &passed)?;

        let child_resources = child.root()["Resources"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let resources = root["Resources"]
            .as_object_mut()
            .ok_or_else(|| invalid("no Resources section"))?;
        resources.remove(&stack_id);
        for (id, resource) in child_resources {
            if resources.contains_key(&id) {
                return Err(invalid(format!(
                    "{child_name}: resource {id} is also declared by its parent (logical ids must be unique across nested stacks)"
                )));
            }
            let mut resource = rewrite.value(&resource);
            if let Some(condition) = resource.get_mut("Condition") {
                if let Some(name) = condition.as_str() {
                    *condition = Value::String(rewrite.condition_name(name));
                }
            }
            if resource["Type"] == "AWS::Serverless::Function" {
                let globals = child
                    .function_globals
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| child.global_environment());
                folded.function_globals.insert(
                    id.clone(),
                    globals
                        .into_iter()
                        .map(|(k, v)| (k, rewrite.value(&v)))
                        .collect(),
                );
            }
            resources.insert(id, resource);
        }
        for (id, globals) in &child.function_globals {
            // Functions of grandchildren already carry their own stack's globals.
            if let Some(entry) = folded.function_globals.get_mut(id) {
                *entry = globals
                    .iter()
                    .map(|(k, v)| (k.clone(), rewrite.value(v)))
                    .collect();
            }
        }
        let conditions = root
            .as_object_mut()
            .ok_or_else(|| invalid("the template is not a mapping"))?
            .entry("Conditions")
            .or_insert_with(|| Value::Object(Map::new()));
        if let (Some(into), Some(from)) = (
            conditions.as_object_mut(),
            child.root()["Conditions"].as_object(),
        ) {
            for (name, definition) in from {
                into.insert(rewrite.condition_name(name), rewrite.value(definition));
            }
        }
        let child_outputs = child.root()["Outputs"]
            .as_object()
            .into_iter()
            .flat_map(|map| map.iter())
            .map(|(name, output)| (name.clone(), rewrite.value(&output["Value"])))
            .collect();
        outputs.insert(stack_id, child_outputs);
    }
    if !outputs.is_empty() {
        resolve_outputs(root, &outputs)?;
    }
    Ok(folded)
}

/// Replaces `!GetAtt Stack.Outputs.Name` with the child's output expression.
fn resolve_outputs(
    value: &mut Value,
    outputs: &BTreeMap<String, Map<String, Value>>,
) -> Result<(), TemplateError> {
    if let Some(Value::Array(parts)) = value.get("Fn::GetAtt") {
        if let [Value::String(stack), Value::String(attribute)] = parts.as_slice() {
            if let (Some(stack_outputs), Some(name)) =
                (outputs.get(stack), attribute.strip_prefix("Outputs."))
            {
                let output = stack_outputs.get(name).ok_or_else(|| {
                    invalid(format!("!GetAtt {stack}.{attribute}: no such output"))
                })?;
                *value = output.clone();
                return Ok(());
            }
        }
    }
    match value {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| resolve_outputs(item, outputs)),
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|item| resolve_outputs(item, outputs)),
        _ => Ok(()),
    }
}

/// How a child's expressions are written in the parent's terms.
struct Rewrite {
    stack_id: String,
    /// Child parameter → the expression the parent passes (or the child's default).
    parameters: Map<String, Value>,
}

impl Rewrite {
    fn new(
        stack_id: &str,
        child_name: &str,
        child: &Value,
        passed: &Map<String, Value>,
    ) -> Result<Self, TemplateError> {
        let declared = child["Parameters"].as_object().cloned().unwrap_or_default();
        let mut problems = Vec::new();
        for name in passed.keys() {
            if !declared.contains_key(name) {
                problems.push(format!(
                    "{stack_id} passes {name}, which {child_name} does not declare"
                ));
            }
        }
        let mut parameters = Map::new();
        for (name, declaration) in &declared {
            match passed.get(name) {
                Some(expression) => {
                    parameters.insert(name.clone(), expression.clone());
                }
                None => match &declaration["Default"] {
                    Value::Null => problems.push(format!(
                        "{stack_id} does not pass {name}, which {child_name} needs (no default)"
                    )),
                    Value::String(s) => {
                        parameters.insert(name.clone(), Value::String(s.clone()));
                    }
                    other => {
                        parameters.insert(name.clone(), Value::String(other.to_string()));
                    }
                },
            }
        }
        if !problems.is_empty() {
            return Err(invalid(problems.join("; ")));
        }
        Ok(Self {
            stack_id: stack_id.to_owned(),
            parameters,
        })
    }

    fn condition_name(&self, name: &str) -> String {
        format!("{}.{name}", self.stack_id)
    }

    fn value(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                match (key.as_str(), arg) {
                    ("Ref", Value::String(name)) if self.parameters.contains_key(name) => {
                        self.parameters[name].clone()
                    }
                    ("Condition", Value::String(name)) => {
                        single("Condition", Value::String(self.condition_name(name)))
                    }
                    ("Fn::If", Value::Array(parts)) if !parts.is_empty() => {
                        let mut parts: Vec<Value> = parts.iter().map(|p| self.value(p)).collect();
                        if let Some(name) = parts[0].as_str() {
                            parts[0] = Value::String(self.condition_name(name));
                        }
                        single("Fn::If", Value::Array(parts))
                    }
                    ("Fn::Sub", Value::String(text)) => self.sub(text, &Map::new()),
                    ("Fn::Sub", Value::Array(parts)) => match parts.as_slice() {
                        [Value::String(text), Value::Object(vars)] => self.sub(text, vars),
                        _ => single(key, self.value(arg)),
                    },
                    _ => single(key, self.value(arg)),
                }
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            other => other.clone(),
        }
    }

    /// `${Parameter}` in a `Fn::Sub` text becomes a variable bound to the parent's expression.
    fn sub(&self, text: &str, vars: &Map<String, Value>) -> Value {
        let mut vars: Map<String, Value> = vars
            .iter()
            .map(|(k, v)| (k.clone(), self.value(v)))
            .collect();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            if !vars.contains_key(name) {
                if let Some(expression) = self.parameters.get(name) {
                    vars.insert(name.to_owned(), expression.clone());
                }
            }
            rest = &after[end + 1..];
        }
        single(
            "Fn::Sub",
            Value::Array(vec![Value::String(text.to_owned()), Value::Object(vars)]),
        )
    }
}

fn single(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_owned(), value);
    Value::Object(map)
}
