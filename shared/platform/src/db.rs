//! Postgres (Aurora in AWS, through RDS Proxy) via `tokio-postgres` with a `deadpool` pool.
//!
//! The pool connects lazily: a cold start never waits on the database, and a database that
//! comes back is used again without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use gsign_core::EnvReader;
use secrecy::{ExposeSecret, SecretString};

use crate::database::data_api::DataApi;
use crate::database::{Backend, Database};

/// A pool checkout error.
pub use deadpool_postgres::PoolError;
/// A Postgres error (for domain errors' conversions).
pub use tokio_postgres::Error as PgError;

pub use crate::database::stored::{Stored, StoredName};

/// Column `name` of `row` as the enum it stores.
pub fn stored<T: StoredName>(row: &tokio_postgres::Row, name: &str) -> Result<T, PgError> {
    Ok(row.try_get::<_, Stored<T>>(name)?.0)
}

/// Nullable column `name` of `row` as the enum it stores.
pub fn stored_opt<T: StoredName>(
    row: &tokio_postgres::Row,
    name: &str,
) -> Result<Option<T>, PgError> {
    Ok(row.try_get::<_, Option<Stored<T>>>(name)?.map(|s| s.0))
}

/// How the connection to Postgres is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbTls {
    /// Plain TCP: the local stack only.
    Disable,
    /// TLS, server certificate verified against the CA bundle (Aurora's RDS CA) or the system
    /// roots, host name checked.
    VerifyFull,
}

impl std::str::FromStr for DbTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(Self::Disable),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(format!("expected disable or verify-full, got {other:?}")),
        }
    }
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `postgres://user:password@host:port/db` (from `DATABASE_URL`): required with the
    /// `postgres` backend; the `data-api` backend signs in with its secret and needs none.
    pub url: Option<SecretString>,
    /// `DATABASE_TLS`: `disable` or `verify-full` (default).
    pub tls: DbTls,
    /// `DATABASE_CA_FILE`: PEM bundle to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// `DATABASE_POOL_SIZE`: connections per container (default 4; Lambda runs one request at a
    /// time per container, RDS Proxy multiplexes).
    pub pool_size: usize,
    /// `DATABASE_CONNECT_TIMEOUT_MS` (default 3000).
    pub connect_timeout: Duration,
    /// `DATABASE_SHARED_POOL`: functions of one process share one pool per database (the
    /// local runner serves every function in one process; Lambda runs one per container).
    pub shared: bool,
    /// `DATABASE_BACKEND`: `postgres` (default) or `data-api`, for the code on the
    /// [`crate::database`] port.
    pub backend: Backend,
    /// The Data API's settings, when it is the backend.
    pub data_api: Option<DataApiConfig>,
}

/// Where the Data API sends statements.
#[derive(Debug, Clone)]
pub struct DataApiConfig {
    /// `DATABASE_CLUSTER_ARN`: the Aurora cluster.
    pub cluster_arn: String,
    /// `DATABASE_SECRET_ARN`: the Secrets Manager secret with the database credentials.
    pub secret_arn: String,
    /// `DATABASE_NAME`: the database on the cluster.
    pub database: String,
    /// `DATABASE_DATA_API_ENDPOINT_URL`: another endpoint (the local runner's); unset in AWS.
    pub endpoint_url: Option<String>,
}

impl DbConfig {
    /// Reads the database settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let backend = r.or("DATABASE_BACKEND", Backend::Postgres);
        let url = match backend {
            Backend::Postgres => r.secret("DATABASE_URL").map(Some),
            // No password in the environment: the Data API reads the secret itself.
            Backend::DataApi => Some(r.optional_secret("DATABASE_URL")),
        };
        let tls = r.or("DATABASE_TLS", DbTls::VerifyFull);
        let ca_file = r.optional::<PathBuf>("DATABASE_CA_FILE");
        let pool_size = r.or("DATABASE_POOL_SIZE", 4usize);
        let connect_timeout = Duration::from_millis(r.or("DATABASE_CONNECT_TIMEOUT_MS", 3000u64));
        let shared = r.or("DATABASE_SHARED_POOL", false);
        // Read now, checked at the end: every problem is reported at once.
        let data_api = (backend == Backend::DataApi).then(|| {
            (
                r.required::<String>("DATABASE_CLUSTER_ARN"),
                r.required::<String>("DATABASE_SECRET_ARN"),
                r.required::<String>("DATABASE_NAME"),
                r.optional::<url::Url>("DATABASE_DATA_API_ENDPOINT_URL"),
            )
        });
        if let Some(Some(url)) = &url {
            if let Err(err) = url.expose_secret().parse::<tokio_postgres::Config>() {
                r.problem(format!("DATABASE_URL is invalid: {err}"));
            }
        }
        if pool_size == 0 {
            r.problem("DATABASE_POOL_SIZE must be at least 1");
        }
        Some(Self {
            url: url?,
            tls,
            ca_file,
            pool_size,
            connect_timeout,
            shared,
            data_api: match data_api {
                None => None,
                Some((cluster_arn, secret_arn, database, endpoint_url)) => Some(DataApiConfig {
                    cluster_arn: cluster_arn?,
                    secret_arn: secret_arn?,
                    database: database?,
                    endpoint_url: endpoint_url.map(|u| u.as_str().trim_end_matches('/').to_owned()),
                }),
            },
            backend,
        })
    }
}

/// Failure to build the pool (bad TLS material); connection failures surface on use.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    /// `DATABASE_URL` did not parse.
    #[error("DATABASE_URL is invalid: {0}")]
    Url(#[from] tokio_postgres::Error),
    /// The CA bundle could not be read or parsed.
    #[error("cannot load the database CA bundle: {0}")]
    Ca(String),
    /// The pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
    /// A pool was asked for with no `DATABASE_URL` (the `data-api` backend has none).
    #[error("DATABASE_URL is not set: the data-api backend has no connection pool")]
    NoUrl,
}

/// The pools shared within this process (`DATABASE_SHARED_POOL`), by database URL.
static SHARED_POOLS: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<String, Pool>>,
> = std::sync::OnceLock::new();

/// Builds the (lazy) connection pool, or with `shared` returns this process's pool for the
/// same database (the first caller's size wins).
pub fn pool(config: &DbConfig) -> Result<Pool, DbSetupError> {
    if !config.shared {
        return build_pool(config);
    }
    let pools = SHARED_POOLS.get_or_init(Default::default);
    let mut pools = pools
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = config
        .url
        .as_ref()
        .ok_or(DbSetupError::NoUrl)?
        .expose_secret()
        .to_owned();
    if let Some(pool) = pools.get(&key) {
        return Ok(pool.clone());
    }
    let pool = build_pool(config)?;
    pools.insert(key, pool.clone());
    Ok(pool)
}

fn build_pool(config: &DbConfig) -> Result<Pool, DbSetupError> {
    let mut pg: tokio_postgres::Config = config
        .url
        .as_ref()
        .ok_or(DbSetupError::NoUrl)?
        .expose_secret()
        .parse()?;
    pg.connect_timeout(config.connect_timeout);
    pg.application_name("gsign");
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.tls {
        DbTls::Disable => {
            pg.ssl_mode(tokio_postgres::config::SslMode::Disable);
            Manager::from_config(pg, tokio_postgres::NoTls, manager_config)
        }
        DbTls::VerifyFull => {
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(config)?);
            Manager::from_config(pg, tls, manager_config)
        }
    };
    Ok(Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(config.connect_timeout))
        .wait_timeout(Some(config.connect_timeout))
        .recycle_timeout(Some(config.connect_timeout))
        .build()?)
}

fn tls_config(config: &DbConfig) -> Result<rustls::ClientConfig, DbSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| DbSetupError::Ca(format!("{}: {e}", path.display())))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| DbSetupError::Ca(e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| DbSetupError::Ca(e.to_string()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system bundle may hold certificates rustls refuses; skip those.
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(DbSetupError::Ca("no trusted certificate found".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbSetupError::Ca(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The database port over the configured backend: a pool (from [`pool`]) or the Data API,
/// whose client is built from `sdk` (nothing connects until first use).
pub fn database(config: &DbConfig, sdk: &aws_config::SdkConfig) -> Result<Database, DbSetupError> {
    let Some(data_api) = config
        .data_api
        .as_ref()
        .filter(|_| config.backend == Backend::DataApi)
    else {
        return Ok(Database::Postgres(pool(config)?));
    };
    let mut builder = aws_sdk_rdsdata::config::Builder::from(sdk);
    if let Some(endpoint) = &data_api.endpoint_url {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(Database::DataApi(Arc::new(DataApi::new(
        aws_sdk_rdsdata::Client::from_conf(builder.build()),
        data_api.cluster_arn.clone(),
        data_api.secret_arn.clone(),
        data_api.database.clone(),
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gsign_core::Env;

    #[test]
    fn database_settings_report_every_problem() {
        let env = Env::from_pairs([
            ("DATABASE_URL", "not a url at all ="),
            ("DATABASE_TLS", "prefer"),
            ("DATABASE_POOL_SIZE", "0"),
        ]);
        let mut r = env.reader();
        let _ = DbConfig::read(&mut r);
        let problems = r.into_problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("DATABASE_TLS")));
        assert!(problems.iter().any(|p| p.starts_with("DATABASE_URL")));
        // The URL may carry a password: the problem must not echo it.
        assert!(problems.iter().all(|p| !p.contains("not a url")));
    }

    #[test]
    fn verify_full_is_the_default() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://u@localhost/db")]);
        let mut r = env.reader();
        let config = DbConfig::read(&mut r).expect("valid");
        assert_eq!(config.tls, DbTls::VerifyFull);
        assert_eq!(config.pool_size, 4);
    }

    #[test]
    fn postgres_needs_a_url_and_the_data_api_its_cluster_and_secret_instead() {
        let env = Env::from_pairs([("DATABASE_TLS", "disable")]);
        let mut r = env.reader();
        let _ = DbConfig::read(&mut r);
        assert_eq!(r.into_problems(), ["DATABASE_URL is not set"]);

        let env = Env::from_pairs([("DATABASE_BACKEND", "data-api")]);
        let mut r = env.reader();
        let _ = DbConfig::read(&mut r);
        let problems = r.into_problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().all(|p| !p.starts_with("DATABASE_URL")));

        let env = Env::from_pairs([
            ("DATABASE_BACKEND", "data-api"),
            ("DATABASE_CLUSTER_ARN", "arn:aws:rds:us-east-1:1:cluster:c"),
            (
                "DATABASE_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:s",
            ),
            ("DATABASE_NAME", "gsign"),
        ]);
        let mut r = env.reader();
        let config = DbConfig::read(&mut r).expect("valid without DATABASE_URL");
        assert!(config.url.is_none());
        assert!(matches!(pool(&config), Err(DbSetupError::NoUrl)));
    }
}
