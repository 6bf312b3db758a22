//! GSign's domain core: typed errors and their RFC 9457 problem details, typed configuration
//! read from an environment map, and (as the product grows) the business rules as plain
//! functions. Nothing here performs I/O, so every rule is testable without a server.

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
pub mod problem;
pub mod routing;
pub mod sealed;
pub mod text;
pub mod webhooks;

pub use access::{Action, Credential, Principal, Role, Scope};
pub use config::{ConfigError, Env, EnvReader};
pub use problem::{FieldError, IntoProblem, Problem};
