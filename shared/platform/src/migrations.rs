//! Versioned, reversible schema migrations from `migrations/NNNN_name.{up,down}.sql`, embedded
//! at compile time so the `migrate` function carries exactly the schema it was built with.
//!
//! They run through the database port, so on either backend (`DATABASE_BACKEND`): each
//! migration in its own transaction (through the Data API, its script split into single
//! statements, one per call). That transaction first takes a transaction-level advisory lock and
//! reads the applied set under it, so two migrators (two deploys, or a deploy and a
//! developer) take turns and never apply a migration twice; a session lock would not do, as no
//! session outlives a Data API call. The checksum of every applied `up` script is recorded so
//! an edited, already-applied migration is refused, not silently skipped.

use include_dir::{include_dir, Dir};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::database::{Database, DbError, Session, Transaction};
use crate::params;

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// Advisory lock key: the ASCII of "gsignmig" as an i64.
const LOCK_KEY: i64 = 0x6773_6967_6e6d_6967;

/// One migration: its version, name and both scripts.
#[derive(Debug, Clone)]
pub struct Migration {
    /// `NNNN` from the file name.
    pub version: i64,
    /// The `name` part of the file name.
    pub name: String,
    /// The forward script.
    pub up: &'static str,
    /// The script that undoes `up`.
    pub down: &'static str,
}

impl Migration {
    /// Hex SHA-256 of the `up` script.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.up.as_bytes()))
    }
}

/// A migration recorded as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Version number.
    pub version: i64,
    /// Name.
    pub name: String,
}

/// What can go wrong while migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A file in `migrations/` does not follow `NNNN_name.up.sql` / `NNNN_name.down.sql`, or
    /// lacks its pair.
    #[error("bad migration file set: {0}")]
    Layout(String),
    /// An applied migration's script changed since it was applied.
    #[error("migration {version} ({name}) was edited after it was applied (checksum mismatch)")]
    Edited {
        /// Version.
        version: i64,
        /// Name.
        name: String,
    },
    /// The database knows a version this build does not have (a newer build migrated it).
    #[error("the database has migration {0}, which this build does not know")]
    Unknown(i64),
    /// The database refused a statement.
    #[error("migration {version} failed: {source}")]
    Sql {
        /// Version being applied or reverted (0 for bookkeeping).
        version: i64,
        /// The database error.
        #[source]
        source: DbError,
    },
}

/// Every embedded migration, sorted by version, each with both scripts.
pub fn embedded() -> Result<Vec<Migration>, MigrationError> {
    parse(
        MIGRATIONS_DIR
            .files()
            .filter_map(|f| Some((f.path().file_name()?.to_str()?, f.contents_utf8()?))),
    )
}

/// Builds the migration list from `(file name, contents)` pairs.
pub fn parse<'a>(
    files: impl Iterator<Item = (&'a str, &'static str)>,
) -> Result<Vec<Migration>, MigrationError> {
    use std::collections::BTreeMap;
    let mut by_version: BTreeMap<i64, (String, Option<&'static str>, Option<&'static str>)> =
        BTreeMap::new();
    for (file, sql) in files {
        let (stem, is_up) = if let Some(stem) = file.strip_suffix(".up.sql") {
            (stem, true)
        } else if let Some(stem) = file.strip_suffix(".down.sql") {
            (stem, false)
        } else {
            return Err(MigrationError::Layout(format!(
                "{file}: expected NNNN_name.up.sql or NNNN_name.down.sql"
            )));
        };
        let (number, name) = stem
            .split_once('_')
            .filter(|(n, name)| n.len() == 4 && !name.is_empty())
            .ok_or_else(|| MigrationError::Layout(format!("{file}: expected NNNN_name")))?;
        let version: i64 = number
            .parse()
            .map_err(|_| MigrationError::Layout(format!("{file}: {number} is not a number")))?;
        let entry = by_version
            .entry(version)
            .or_insert_with(|| (name.to_owned(), None, None));
        if entry.0 != name {
            return Err(MigrationError::Layout(format!(
                "version {version} has two names: {} and {name}",
                entry.0
            )));
        }
        let slot = if is_up { &mut entry.1 } else { &mut entry.2 };
        *slot = Some(sql);
    }
    let mut out = Vec::with_capacity(by_version.len());
    for (expected, (version, (name, up, down))) in (1..).zip(by_version) {
        if version != expected {
            return Err(MigrationError::Layout(format!(
                "versions must run 1..n without gaps: expected {expected:04}, found {version:04}"
            )));
        }
        let (Some(up), Some(down)) = (up, down) else {
            return Err(MigrationError::Layout(format!(
                "{version:04}_{name} needs both an .up.sql and a .down.sql"
            )));
        };
        out.push(Migration {
            version,
            name,
            up,
            down,
        });
    }
    Ok(out)
}

fn sql(version: i64) -> impl FnOnce(DbError) -> MigrationError {
    move |source| MigrationError::Sql { version, source }
}

/// What is applied, as `(version, name, checksum)`, oldest first.
type AppliedRows = Vec<(i64, String, String)>;

/// Takes the migration lock in `tx` (until it ends), makes sure the bookkeeping table exists
/// and reads what is applied.
async fn locked(tx: &Transaction<'_>) -> Result<AppliedRows, MigrationError> {
    tx.run(
        "SELECT pg_advisory_xact_lock(:key)",
        params!(key = LOCK_KEY),
    )
    .await
    .map_err(sql(0))?;
    tx.run(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
        params!(),
    )
    .await
    .map_err(sql(0))?;
    tx.fetch_all(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
        params!(),
    )
    .await
    .map_err(sql(0))?
    .iter()
    .map(|row| Ok((row.get("version")?, row.get("name")?, row.get("checksum")?)))
    .collect::<Result<_, DbError>>()
    .map_err(sql(0))
}

/// Checks the applied set against `migrations`: known versions, unchanged scripts.
fn verify(
    applied: &[(i64, String, String)],
    migrations: &[Migration],
) -> Result<(), MigrationError> {
    for (version, name, checksum) in applied {
        let known = migrations
            .iter()
            .find(|m| m.version == *version)
            .ok_or(MigrationError::Unknown(*version))?;
        if known.checksum() != *checksum {
            return Err(MigrationError::Edited {
                version: *version,
                name: name.clone(),
            });
        }
    }
    Ok(())
}

/// Applies every pending migration (up to `target` if given); returns what it applied.
pub async fn up(
    db: &Database,
    migrations: &[Migration],
    target: Option<i64>,
) -> Result<Vec<Applied>, MigrationError> {
    let mut done = Vec::new();
    loop {
        let mut connection = db.connect().await.map_err(sql(0))?;
        let tx = connection.begin().await.map_err(sql(0))?;
        let applied = locked(&tx).await?;
        verify(&applied, migrations)?;
        let current = applied.last().map_or(0, |(v, _, _)| *v);
        let Some(m) = migrations
            .iter()
            .find(|m| m.version > current && target.is_none_or(|t| m.version <= t))
        else {
            tx.commit().await.map_err(sql(0))?;
            return Ok(done);
        };
        tx.run_script(m.up).await.map_err(sql(m.version))?;
        tx.run(
            "INSERT INTO schema_migrations (version, name, checksum) \
             VALUES (:version, :name, :checksum)",
            params!(version = m.version, name = m.name, checksum = m.checksum()),
        )
        .await
        .map_err(sql(m.version))?;
        tx.commit().await.map_err(sql(m.version))?;
        tracing::info!(version = m.version, name = %m.name, "migration applied");
        done.push(Applied {
            version: m.version,
            name: m.name.clone(),
        });
    }
}

/// Reverts the last `steps` applied migrations, newest first; returns what it reverted.
pub async fn down(
    db: &Database,
    migrations: &[Migration],
    steps: usize,
) -> Result<Vec<Applied>, MigrationError> {
    let mut done = Vec::new();
    while done.len() < steps {
        let mut connection = db.connect().await.map_err(sql(0))?;
        let tx = connection.begin().await.map_err(sql(0))?;
        let applied = locked(&tx).await?;
        verify(&applied, migrations)?;
        let Some((version, name, _)) = applied.last() else {
            tx.commit().await.map_err(sql(0))?;
            break;
        };
        let m = migrations
            .iter()
            .find(|m| m.version == *version)
            .ok_or(MigrationError::Unknown(*version))?;
        tx.run_script(m.down).await.map_err(sql(m.version))?;
        tx.run(
            "DELETE FROM schema_migrations WHERE version = :version",
            params!(version = m.version),
        )
        .await
        .map_err(sql(m.version))?;
        tx.commit().await.map_err(sql(m.version))?;
        tracing::info!(version, name = %name, "migration reverted");
        done.push(Applied {
            version: *version,
            name: name.clone(),
        });
    }
    Ok(done)
}

/// The applied migrations, oldest first.
pub async fn status(db: &Database) -> Result<Vec<Applied>, MigrationError> {
    let mut connection = db.connect().await.map_err(sql(0))?;
    let tx = connection.begin().await.map_err(sql(0))?;
    let applied = locked(&tx).await?;
    tx.commit().await.map_err(sql(0))?;
    Ok(applied
        .into_iter()
        .map(|(version, name, _)| Applied { version, name })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_migrations_pair_up_and_number_without_gaps() {
        let migrations = embedded().expect("migrations/ is well formed");
        assert!(!migrations.is_empty());
        for (i, m) in migrations.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(
                !m.up.trim().is_empty() && !m.down.trim().is_empty(),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn a_missing_down_script_is_refused() {
        let err = parse([("0001_a.up.sql", "select 1")].into_iter()).expect_err("no down");
        assert!(err.to_string().contains("needs both"), "{err}");
    }

    #[test]
    fn a_gap_in_versions_is_refused() {
        let files = [
            ("0001_a.up.sql", "x"),
            ("0001_a.down.sql", "x"),
            ("0003_c.up.sql", "x"),
            ("0003_c.down.sql", "x"),
        ];
        let err = parse(files.into_iter()).expect_err("gap");
        assert!(err.to_string().contains("without gaps"), "{err}");
    }

    #[test]
    fn stray_files_are_refused() {
        let err = parse([("README.md", "x")].into_iter()).expect_err("stray");
        assert!(matches!(err, MigrationError::Layout(_)));
    }
}
