//! GSign's domain core: typed errors and their RFC 9457 problem details, typed configuration
//! read from an environment map, and (as the product grows) the business rules as plain
//! functions. Nothing here performs I/O, so every rule is testable without a server.

/// An enum stored (in a text column, in JSON) by name: `as_str`, `parse`, `ALL`, `Display`.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        $(#[$doc])*
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value of a stored name.
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        /// The stored name.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod access;
pub mod accounts;
pub mod billing;
pub mod certificates;
pub mod config;
pub mod documents;
pub mod envelopes;
pub mod mail;
pub mod openapi;
pub mod packs;
pub mod patch;
pub mod problem;
pub mod routing;
pub mod sealed;
pub mod text;
pub mod webhooks;

pub use access::{Action, Credential, Principal, Role, Scope};
pub use config::{ConfigError, Env, EnvReader};
pub use problem::{FieldError, IntoProblem, Problem};
