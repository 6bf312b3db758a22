//! `migrate`: applies or reverts the embedded migrations.
//!
//! In AWS it is a Lambda invoked after each deploy with `{"action": "up"}` (the default),
//! `{"action": "down", "steps": N}` or `{"action": "status"}`. Locally the same binary is a
//! CLI: `migrate up [--to N]`, `migrate down N|--all`, `migrate status`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use gsign_core::Env;
use gsign_platform::aws;
use gsign_platform::database::Database;
use gsign_platform::db::{self, DbConfig};
use gsign_platform::lambda::{FunctionSpec, Handler, InitFuture, InvokeError, InvokeHandler};
use gsign_platform::migrations::{self, Applied, Migration};
use serde::{Deserialize, Serialize};

/// The `migrate` function.
pub const FUNCTION: FunctionSpec = FunctionSpec {
    name: "migrate",
    init,
};

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum Command {
    /// Apply pending migrations, optionally only up to `to`.
    Up {
        /// Highest version to apply.
        #[serde(default)]
        to: Option<i64>,
    },
    /// Revert the newest `steps` migrations.
    Down {
        /// How many to revert.
        steps: usize,
    },
    /// List the applied migrations.
    Status,
}

/// The outcome of a command.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Migrations applied or reverted by this command (empty for `status`).
    pub changed: Vec<Applied>,
    /// The migrations applied now, oldest first.
    pub applied: Vec<Applied>,
    /// The newest version this build knows.
    pub latest: i64,
}

/// The migrator: the database (either backend) and the embedded migrations.
pub struct Migrator {
    db: Database,
    migrations: Vec<Migration>,
}

impl Migrator {
    /// Builds a migrator from `env` (`DATABASE_*`, and the AWS settings for the Data API).
    pub async fn from_env(env: &Env) -> anyhow::Result<Self> {
        let mut r = env.reader();
        let config = DbConfig::read(&mut r);
        let aws_config = aws::AwsConfig::read(&mut r);
        let (config, aws_config) = r.finish(|| Some((config?, aws_config?)))?;
        let sdk = aws::sdk_config(&aws_config).await;
        Ok(Self {
            db: db::database(&config, &sdk)?,
            migrations: migrations::embedded()?,
        })
    }

    /// Runs `command`.
    #[tracing::instrument(skip_all)]
    pub async fn run(&self, command: Command) -> anyhow::Result<Outcome> {
        let changed = match command {
            Command::Up { to } => migrations::up(&self.db, &self.migrations, to).await?,
            Command::Down { steps } => migrations::down(&self.db, &self.migrations, steps).await?,
            Command::Status => Vec::new(),
        };
        Ok(Outcome {
            changed,
            applied: migrations::status(&self.db).await?,
            latest: self.migrations.last().map_or(0, |m| m.version),
        })
    }
}

fn init(env: Env) -> InitFuture {
    Box::pin(async move { Ok(Handler::Invoke(Arc::new(Migrator::from_env(&env).await?))) })
}

#[async_trait]
impl InvokeHandler for Migrator {
    async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, InvokeError> {
        // An empty event (the post-deploy hook) means "up".
        let command = match &event {
            serde_json::Value::Null => Command::Up { to: None },
            serde_json::Value::Object(map) if map.is_empty() => Command::Up { to: None },
            // The same event fails the same way: not worth a retry.
            _ => serde_json::from_value(event)
                .context("the event is not a migrate command")
                .map_err(InvokeError::permanent)?,
        };
        let outcome = self.run(command).await?;
        Ok(serde_json::to_value(outcome)?)
    }
}

/// Parses CLI arguments (without the program name) into a command.
pub fn parse_args(args: &[String]) -> Result<Command, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["up"] => Ok(Command::Up { to: None }),
        ["up", "--to", n] => n
            .parse()
            .map(|to| Command::Up { to: Some(to) })
            .map_err(|_| format!("--to needs a version number, got {n:?}")),
        ["down", "--all"] => Ok(Command::Down { steps: usize::MAX }),
        ["down", n] => n
            .parse()
            .map(|steps| Command::Down { steps })
            .map_err(|_| format!("down needs a number of steps or --all, got {n:?}")),
        ["status"] => Ok(Command::Status),
        _ => Err("usage: migrate [up [--to N] | down N|--all | status]".to_owned()),
    }
}

/// Entry point: the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, otherwise the CLI.
pub fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return gsign_platform::lambda::main_of(&[gsign_platform::lambda::Function::Job(FUNCTION)]);
    }
    let env = Env::from_process();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("migrate: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let migrator = Migrator::from_env(&env).await?;
        migrator.run(command).await
    });
    match result {
        Ok(outcome) => {
            for m in &outcome.changed {
                println!("changed {:04} {}", m.version, m.name);
            }
            let current = outcome.applied.last().map_or(0, |m| m.version);
            println!(
                "database at version {current} (latest known {})",
                outcome.latest
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("migrate: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn cli_arguments_map_to_commands() {
        assert_eq!(parse_args(&args(&[])), Ok(Command::Up { to: None }));
        assert_eq!(
            parse_args(&args(&["up", "--to", "3"])),
            Ok(Command::Up { to: Some(3) })
        );
        assert_eq!(
            parse_args(&args(&["down", "2"])),
            Ok(Command::Down { steps: 2 })
        );
        assert_eq!(parse_args(&args(&["status"])), Ok(Command::Status));
        assert!(parse_args(&args(&["down"])).is_err());
        assert!(parse_args(&args(&["sideways"])).is_err());
    }

    #[test]
    fn lambda_events_map_to_commands_and_unknown_fields_are_refused() {
        let down: Command =
            serde_json::from_value(serde_json::json!({"action": "down", "steps": 1}))
                .expect("valid");
        assert_eq!(down, Command::Down { steps: 1 });
        assert!(serde_json::from_value::<Command>(
            serde_json::json!({"action": "up", "drop": "everything"})
        )
        .is_err());
    }
}
