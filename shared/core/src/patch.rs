//! PATCH bodies: a member left out and a member set to `null` mean different things (keep
//! the value; clear it).

/// Reads an optional member as `Option<Option<T>>`: absent → `None` (with
/// `#[serde(default)]`), `null` → `Some(None)`, a value → `Some(Some(value))`. Use as
/// `#[serde(default, with = "gsign_core::patch::double_option")]`.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Deserializes a present member (absent ones never reach here).
    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }

    /// Writes a value, or `null` for both a cleared and an unchanged member.
    pub fn serialize<S, T>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Serialize,
    {
        match value {
            Some(Some(value)) => serializer.serialize_some(value),
            _ => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Change {
        #[serde(default, with = "super::double_option")]
        message: Option<Option<String>>,
    }

    fn message(json: &str) -> Option<Option<String>> {
        serde_json::from_str::<Change>(json)
            .expect("a change")
            .message
    }

    #[test]
    fn absent_null_and_a_value_are_three_different_changes() {
        assert_eq!(message("{}"), None);
        assert_eq!(message(r#"{"message": null}"#), Some(None));
        assert_eq!(message(r#"{"message": "Hi"}"#), Some(Some("Hi".to_owned())));
    }
}
