//! Typed configuration from an environment map, checked once at cold start.
//!
//! Functions never read `std::env` directly: they read an [`Env`], which in Lambda is the
//! process environment and in the local runner is the environment `template.yaml` declares for
//! that function. An [`EnvReader`] collects *every* problem before failing, so a bad deployment
//! is fixed in one round, not one variable at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;

/// An immutable set of environment variables.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Env {
    // Values may be secrets: show names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// The current process environment (what Lambda gives a function).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// An environment from explicit pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A copy with `name` set to `value` (later sets win).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// A copy overlaid with every pair of `other`.
    pub fn overlay(mut self, other: &Env) -> Self {
        for (k, v) in &other.vars {
            self.vars.insert(k.clone(), v.clone());
        }
        self
    }

    /// Every variable name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// Starts reading typed settings from this environment.
    pub fn reader(&self) -> EnvReader<'_> {
        EnvReader {
            env: self,
            problems: Vec::new(),
        }
    }
}

/// Every configuration problem found, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// One line per problem, each naming the variable.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration ({} problem{}): {}",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" },
            self.problems.join("; ")
        )
    }
}

/// Reads typed values from an [`Env`], remembering every problem instead of stopping at the
/// first. Call [`EnvReader::finish`] once all values are read.
pub struct EnvReader<'e> {
    env: &'e Env,
    problems: Vec<String>,
}

impl EnvReader<'_> {
    /// A required value parsed as `T`. On a problem, records it and returns `None`.
    pub fn required<T>(&mut self, name: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.env.get(name) {
            None => {
                self.problems.push(format!("{name} is not set"));
                None
            }
            Some(raw) => self.parse(name, raw),
        }
    }

    /// An optional value parsed as `T`; a present but unparsable value is a problem.
    pub fn optional<T>(&mut self, name: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.env.get(name).and_then(|raw| self.parse(name, raw))
    }

    /// An optional value with a default.
    pub fn or<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.env.get(name) {
            None => default,
            Some(raw) => self.parse(name, raw).unwrap_or(default),
        }
    }

    /// A required secret; never printed, not even in problems.
    pub fn secret(&mut self, name: &str) -> Option<SecretString> {
        match self.env.get(name) {
            None => {
                self.problems.push(format!("{name} is not set"));
                None
            }
            Some(raw) => Some(SecretString::from(raw.to_owned())),
        }
    }

    /// An optional secret: `None` when unset.
    pub fn optional_secret(&mut self, name: &str) -> Option<SecretString> {
        self.env
            .get(name)
            .map(|raw| SecretString::from(raw.to_owned()))
    }

    /// Records a problem found by a cross-field check.
    pub fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    /// `Ok(value)` if no problem was recorded, otherwise every problem at once.
    ///
    /// `build` runs only when every read succeeded, so it may `expect` nothing: callers pass the
    /// `Option`s they read and unwrap them with `?` inside the closure.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ConfigError> {
        if self.problems.is_empty() {
            if let Some(value) = build() {
                return Ok(value);
            }
            return Err(ConfigError {
                problems: vec!["configuration incomplete".to_owned()],
            });
        }
        Err(ConfigError {
            problems: self.problems,
        })
    }

    /// Hands the collected problems to an outer reader (for nested configuration structs).
    pub fn into_problems(self) -> Vec<String> {
        self.problems
    }

    /// Adds problems collected elsewhere.
    pub fn extend(&mut self, problems: Vec<String>) {
        self.problems.extend(problems);
    }

    fn parse<T>(&mut self, name: &str, raw: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match raw.parse::<T>() {
            Ok(value) => Some(value),
            Err(err) => {
                self.problems.push(format!("{name} is invalid: {err}"));
                None
            }
        }
    }
}

impl ConfigError {
    /// Merges several configuration results' problems into one error.
    pub fn merge(errors: impl IntoIterator<Item = ConfigError>) -> Option<ConfigError> {
        let problems: Vec<String> = errors.into_iter().flat_map(|e| e.problems).collect();
        (!problems.is_empty()).then_some(ConfigError { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[derive(Debug)]
    struct Sample {
        port: u16,
        name: String,
        timeout_ms: u64,
    }

    fn read(env: &Env) -> Result<Sample, ConfigError> {
        let mut r = env.reader();
        let port = r.required::<u16>("PORT");
        let name = r.required::<String>("NAME");
        let timeout_ms = r.or("TIMEOUT_MS", 500u64);
        r.finish(|| {
            Some(Sample {
                port: port?,
                name: name?,
                timeout_ms,
            })
        })
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let env = Env::from_pairs([("PORT", "eighty"), ("TIMEOUT_MS", "soon")]);
        let err = read(&env).expect_err("two variables are wrong and one is missing");
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.problems[0].starts_with("PORT is invalid"));
        assert_eq!(err.problems[1], "NAME is not set");
        assert!(err.problems[2].starts_with("TIMEOUT_MS is invalid"));
    }

    #[test]
    fn valid_environment_builds_the_typed_value_with_defaults() {
        let env = Env::from_pairs([("PORT", "8080"), ("NAME", "gsign")]);
        let sample = read(&env).expect("valid");
        assert_eq!(
            (sample.port, sample.name.as_str(), sample.timeout_ms),
            (8080, "gsign", 500)
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_pairs([("PORT", ""), ("NAME", "x")]);
        let err = read(&env).expect_err("empty port");
        assert_eq!(err.problems, vec!["PORT is not set".to_owned()]);
    }

    #[test]
    fn secrets_are_neither_debug_printed_nor_listed_by_value() {
        let env = Env::from_pairs([("PIN", "1234-super-secret")]);
        assert!(!format!("{env:?}").contains("super-secret"));
        let mut r = env.reader();
        let pin = r.secret("PIN").expect("set");
        assert!(!format!("{pin:?}").contains("super-secret"));
        assert_eq!(pin.expose_secret(), "1234-super-secret");
    }
}
