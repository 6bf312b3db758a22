//! The variables a clause needs, as a JSON Schema (any draft the `jsonschema` crate knows,
//! 2020-12 by default; no remote references), and the text each value becomes.

use std::collections::BTreeMap;

use serde_json::Value;

/// One problem with the values, at a JSON Pointer into them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, e.g. `/buyer/email` (empty: the whole object).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Why a schema cannot be used.
pub fn check_schema(schema: &Value) -> Result<(), String> {
    if !schema.is_object() {
        return Err("must be a JSON Schema object".to_owned());
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Every problem of `values` against `schema` (an unusable schema is one problem).
pub fn validate(schema: &Value, values: &Value) -> Vec<Problem> {
    match jsonschema::validator_for(schema) {
        Ok(validator) => validator
            .iter_errors(values)
            .map(|error| Problem {
                pointer: error.instance_path().to_string(),
                message: error.to_string(),
            })
            .collect(),
        Err(error) => vec![Problem {
            pointer: String::new(),
            message: format!("the clause's schema is unusable: {error}"),
        }],
    }
}

/// The text of every placeholder `names` (dotted paths into `values`) that has a value;
/// strings as they are, numbers as written, booleans as `true`/`false`. Objects, arrays and
/// nulls are not text and count as missing.
pub fn texts<'a>(
    names: impl IntoIterator<Item = &'a String>,
    values: &Value,
) -> BTreeMap<String, String> {
    names
        .into_iter()
        .filter_map(|name| {
            let mut value = values;
            for part in name.split('.') {
                value = value.get(part)?;
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => return None,
            };
            Some((name.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_is_listed_with_its_pointer() {
        let schema = json!({
            "type": "object",
            "required": ["buyer", "price"],
            "properties": {
                "buyer": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 2}}},
                "price": {"type": "number", "minimum": 0}
            }
        });
        let problems = validate(&schema, &json!({"buyer": {"name": "Б"}, "price": -1}));
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(pointers, ["/buyer/name", "/price"], "{problems:?}");
        assert!(validate(&schema, &json!({"buyer": {"name": "Батаа"}, "price": 5})).is_empty());
        assert_eq!(validate(&schema, &json!({})).len(), 2);
    }

    #[test]
    fn schemas_are_checked_and_values_become_text() {
        assert!(check_schema(&json!({"type": "object"})).is_ok());
        assert!(check_schema(&json!({"type": "no-such-type"})).is_err());
        assert!(check_schema(&json!([1])).is_err());
        let names = [
            "a.b".to_owned(),
            "n".to_owned(),
            "t".to_owned(),
            "o".to_owned(),
        ];
        let texts = texts(
            &names,
            &json!({"a": {"b": "Өө"}, "n": 1.5, "t": true, "o": {}}),
        );
        assert_eq!(texts.len(), 3);
        assert_eq!(texts["a.b"], "Өө");
        assert_eq!(texts["n"], "1.5");
        assert_eq!(texts["t"], "true");
    }
}
