//! Helpers for the end-to-end tests: the local stack's endpoints, a database per test, a
//! stack (own name, so its own queues, buckets, tables and keys) per test, a private Redis
//! that a test may stop and start, and the fixture functions the runner tests use.

pub mod attacks;
pub mod bench;
pub mod envelopes;
pub mod fixtures;
pub mod packs;
pub mod pki;
pub mod stripe;
pub mod use_cases;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gsign_core::Env;
use gsign_local::runner::{self, Registry, Running, StackConfig};
use gsign_local::LocalStack;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The local stack's environment. Runs under `infra/local/stack test`, which exports it;
/// when `cargo test` runs on its own, it is read from `.local/stack.env` (written by
/// `infra/local/stack up`) and exported into this process once, so that the AWS SDK and the
/// SoftHSM library see it too.
pub fn stack_env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
            let file = root().join(".local/stack.env");
            let text = std::fs::read_to_string(&file).unwrap_or_else(|_| {
                panic!(
                    "the local stack is not up: run `infra/local/stack up` (no {})",
                    file.display()
                )
            });
            for line in text.lines() {
                if let Some((name, value)) =
                    line.strip_prefix("export ").and_then(|l| l.split_once('='))
                {
                    if name != "PATH" {
                        std::env::set_var(name, value);
                    }
                }
            }
        }
        Env::from_process()
    })
}

/// A variable of the local stack's environment.
pub fn stack_var(name: &str) -> String {
    stack_env()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not in the local stack's environment"))
        .to_owned()
}

/// AWS SDK configuration pointing at the local moto server.
pub async fn sdk() -> aws_config::SdkConfig {
    let config = gsign_platform::aws::config_from(stack_env()).expect("valid AWS settings");
    gsign_platform::aws::sdk_config(&config).await
}

/// The PDF inspector the in-process stacks start for untrusted files: this package's
/// `gsign-test-inspector`, which Cargo builds before it runs the package's tests, next to the
/// test binaries' `deps/` directory.
pub fn inspector_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("gsign-test-inspector")
}

/// A short random suffix.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A database of its own, dropped (with its connections) when the value is dropped.
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// `postgres://` URL to it.
    pub url: String,
    admin_url: String,
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the local Postgres answers");
    tokio::spawn(connection);
    client
}

impl TestDatabase {
    /// Creates an empty database.
    pub async fn create() -> Self {
        let admin_url = stack_var("GSIGN_DATABASE_ADMIN_URL");
        let name = format!("gsign_t_{}", unique());
        admin(&admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base.to_owned())
            .expect("GSIGN_DATABASE_ADMIN_URL ends in /DATABASE");
        let url = format!("{base}/{name}");
        Self {
            name,
            url,
            admin_url,
        }
    }

    /// A new database with every migration applied.
    pub async fn migrated() -> Self {
        let db = Self::create().await;
        let all = gsign_platform::migrations::embedded().expect("embedded migrations");
        gsign_platform::migrations::up(&db.database(), &all, None)
            .await
            .expect("migrate");
        db
    }

    /// It behind the database port (a small pool of its own, on the Postgres backend).
    pub fn database(&self) -> gsign_platform::database::Database {
        let config = gsign_platform::db::DbConfig {
            url: Some(secrecy::SecretString::from(self.url.clone())),
            tls: gsign_platform::db::DbTls::Disable,
            ca_file: None,
            pool_size: 2,
            connect_timeout: std::time::Duration::from_secs(5),
            shared: false,
            backend: gsign_platform::database::Backend::Postgres,
            data_api: None,
        };
        gsign_platform::database::Database::Postgres(
            gsign_platform::db::pool(&config).expect("a pool for the test database"),
        )
    }

    /// A connection to it.
    pub async fn connect(&self) -> tokio_postgres::Client {
        admin(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = admin(&url).await;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// The Stripe webhook secret of test stacks (events are signed with it in tests).
pub const STRIPE_TEST_SECRET: &str = "whsec_gsign_local";

/// The operator's health token of local and test stacks (`HEALTH_TOKEN` in
/// `infra/local/stack`): `GET /v1/health` with it names the dependencies that are down.
pub const LOCAL_HEALTH_TOKEN: &str = "gsign-local-health";

/// The template parameters of the local stack (as `.local/parameters.json` has them).
pub fn local_parameters() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("DatabaseUrl".to_owned(), stack_var("DATABASE_URL")),
        ("DatabaseTls".to_owned(), "disable".to_owned()),
        ("RedisUrl".to_owned(), stack_var("REDIS_URL")),
        ("HsmModulePath".to_owned(), stack_var("HSM_MODULE_PATH")),
        ("HsmTokenLabel".to_owned(), stack_var("HSM_TOKEN_LABEL")),
        ("HsmPin".to_owned(), stack_var("HSM_PIN")),
        (
            "HealthDetailTokenSha256".to_owned(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                LOCAL_HEALTH_TOKEN.as_bytes(),
            )),
        ),
        (
            "AccessTokenKey".to_owned(),
            stack_var("GSIGN_ACCESS_TOKEN_KEY"),
        ),
        // Found on PATH (Debian's LibreOffice).
        ("OfficeConverterPath".to_owned(), "soffice".to_owned()),
        // Test receivers listen on 127.0.0.1.
        ("WebhookAllowLoopback".to_owned(), "true".to_owned()),
        // SoftHSM 2.6 unwraps RSA-OAEP with SHA-1 only.
        ("HsmOaepMode".to_owned(), "raw".to_owned()),
        // Sealed-envelope keys held in KMS live in LocalStack's (moto's lacks OAEP and PSS-32).
        (
            "SealedKmsEndpointUrl".to_owned(),
            stack_var("GSIGN_SEALED_KMS_URL"),
        ),
        (
            "StripeWebhookSecrets".to_owned(),
            STRIPE_TEST_SECRET.to_owned(),
        ),
        (
            "StripeSecretKey".to_owned(),
            "sk_test_gsign_local".to_owned(),
        ),
        // Nothing listens here: tests that reach Stripe start their own recorded answers.
        ("StripeApiBase".to_owned(), "http://127.0.0.1:9".to_owned()),
    ])
}

/// A stack of its own (unique name, so its own resources in moto), served on a free port.
pub struct TestStack {
    /// The runner.
    pub running: Running,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its name.
    pub name: String,
}

/// Builds the stack of `template` with `parameters` and `registry`, and serves it.
pub async fn start_stack(
    template: &Path,
    registry: &Registry,
    parameters: BTreeMap<String, String>,
) -> TestStack {
    start_stack_at(
        template,
        registry,
        parameters,
        &stack_var("AWS_ENDPOINT_URL"),
    )
    .await
}

/// The application's stack (`template.yaml`, every function) on database `db`, with
/// parameter `overrides` on top of the local ones.
pub async fn start_app(db: &TestDatabase, overrides: &[(&str, String)]) -> TestStack {
    start_app_on(use_cases::backend(), db, overrides).await
}

/// [`start_app`] on the database `backend` given, whatever the tests run on (the benchmarks
/// compare both).
pub async fn start_app_on(
    backend: gsign_platform::database::Backend,
    db: &TestDatabase,
    overrides: &[(&str, String)],
) -> TestStack {
    // AppUrl is the stack's own address: the CRL distribution point its organization CAs
    // name (AppUrl/pki/...) must answer, as CloudFront's /pki/* does in AWS.
    let port = free_port();
    let mut parameters = local_parameters();
    database_parameters(backend, &mut parameters, db);
    parameters.insert("AppUrl".to_owned(), format!("http://127.0.0.1:{port}"));
    for (name, value) in overrides {
        parameters.insert((*name).to_owned(), value.clone());
    }
    serve_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
        &stack_var("AWS_ENDPOINT_URL"),
        port,
        None,
    )
    .await
}

/// Like [`start_stack`], with the AWS services of the moto server at `aws_endpoint`.
pub async fn start_stack_at(
    template: &Path,
    registry: &Registry,
    parameters: BTreeMap<String, String>,
    aws_endpoint: &str,
) -> TestStack {
    serve_stack(template, registry, parameters, aws_endpoint, 0, None).await
}

/// The application's stack serving the built web app (`web/dist`) too, with `APP_URL` its
/// own address, so every link it mails opens its own pages (what the browser tests need).
pub async fn start_app_with_web(db: &TestDatabase, overrides: &[(&str, String)]) -> TestStack {
    let port = free_port();
    let mut parameters = local_parameters();
    database_parameters(use_cases::backend(), &mut parameters, db);
    parameters.insert("AppUrl".to_owned(), format!("http://127.0.0.1:{port}"));
    for (name, value) in overrides {
        parameters.insert((*name).to_owned(), value.clone());
    }
    serve_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
        &stack_var("AWS_ENDPOINT_URL"),
        port,
        Some(root().join("web/dist")),
    )
    .await
}

/// The template's database parameters for `db` on `backend`: with `data-api`, statements go
/// through the test binary's local Data API endpoint.
fn database_parameters(
    backend: gsign_platform::database::Backend,
    parameters: &mut BTreeMap<String, String>,
    db: &TestDatabase,
) {
    parameters.insert("DatabaseUrl".to_owned(), db.url.clone());
    if backend == gsign_platform::database::Backend::DataApi {
        for (name, value) in [
            ("DatabaseBackend", "data-api"),
            (
                "DatabaseClusterArn",
                "arn:aws:rds:us-east-1:000000000000:cluster:gsign-local",
            ),
            (
                "DatabaseSecretArn",
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:gsign-local-db",
            ),
            ("DatabaseName", db.name.as_str()),
        ] {
            parameters.insert(name.to_owned(), value.to_owned());
        }
    }
}

async fn serve_stack(
    template: &Path,
    registry: &Registry,
    parameters: BTreeMap<String, String>,
    aws_endpoint: &str,
    port: u16,
    web_dist: Option<PathBuf>,
) -> TestStack {
    // Metric lines are for CloudWatch and `stack metrics`; in tests they would only bury
    // the output.
    gsign_platform::telemetry::set_metrics_enabled(false);
    let name = format!("t-{}", unique());
    let mut base_env = runner::base_env(stack_env())
        .with("AWS_ENDPOINT_URL", aws_endpoint)
        .with("PDF_INSPECTOR", inspector_path().to_string_lossy())
        .with("PDF_VERIFIER", inspector_path().to_string_lossy());
    if use_cases::backend() == gsign_platform::database::Backend::DataApi {
        base_env = base_env.with(
            "DATABASE_DATA_API_ENDPOINT_URL",
            use_cases::data_api_endpoint(),
        );
    }
    let aws = gsign_platform::aws::config_from(&base_env).expect("valid AWS settings");
    let sdk = gsign_platform::aws::sdk_config(&aws).await;
    let config = StackConfig {
        template_path: template.to_path_buf(),
        stack_name: name.clone(),
        region: stack_var("AWS_REGION"),
        parameters,
        base_env,
        sqs_wait_seconds: 1,
        web_dist,
    };
    let stack = LocalStack::build(config, registry, &sdk)
        .await
        .expect("the stack builds");
    let running = runner::start(stack, ([127, 0, 0, 1], port).into())
        .await
        .expect("the runner starts");
    TestStack {
        url: format!("http://{}", running.addr),
        running,
        name,
    }
}

impl TestStack {
    /// `method path` as `who`, with an optional JSON body: the status and the JSON answer
    /// (`Null` when the body is not JSON).
    pub async fn call(
        &self,
        who: &Tenant,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .header("authorization", &who.bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the runner answers");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// Uploads `bytes` as a PDF document of `who`'s organization, as a client would (declare,
    /// PUT to the presigned URL), and waits until ingest made it `ready`; returns its id.
    pub async fn upload_ready_pdf(&self, who: &Tenant, file_name: &str, bytes: Vec<u8>) -> String {
        let (status, created) = self
            .call(
                who,
                "POST",
                "/v1/documents",
                Some(serde_json::json!({
                    "file_name": file_name,
                    "content_type": "application/pdf",
                    "size": bytes.len(),
                })),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let upload = &created["upload"];
        let mut put = reqwest::Client::new().put(upload["url"].as_str().expect("url"));
        for (name, value) in upload["headers"].as_object().expect("headers") {
            if name != "content-length" {
                put = put.header(name, value.as_str().expect("value"));
            }
        }
        let response = put.body(bytes).send().await.expect("S3 answers");
        assert!(response.status().is_success(), "PUT: {}", response.status());
        let id = created["id"].as_str().expect("id").to_owned();
        let path = format!("/v1/documents/{id}");
        eventually(Duration::from_secs(90), "ingest", || async {
            let (_, doc) = self.call(who, "GET", &path, None).await;
            assert_ne!(doc["status"], "failed", "{doc}");
            (doc["status"] == "ready").then_some(())
        })
        .await;
        id
    }

    /// Stops serving and deletes the stack's resources from moto.
    pub async fn stop(self) {
        let stack = std::sync::Arc::clone(&self.running.stack);
        self.running.stop().await;
        stack.teardown().await.expect("teardown");
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A moto_server of its own on a fixed port, which a test may stop and start again (moto
/// keeps its state in memory: a restarted moto is empty).
pub struct PrivateMoto {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

impl PrivateMoto {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> Self {
        let mut moto = Self {
            port: free_port(),
            child: None,
        };
        moto.resume();
        moto
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and waits until `/moto-api/` answers.
    pub fn resume(&mut self) {
        let child = Command::new(stack_var("GSIGN_MOTO_SERVER"))
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let answered = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if answered {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A redis-server of its own on a fixed port, which a test may stop and start again.
pub struct PrivateRedis {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.resume();
        redis
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and waits until it accepts connections.
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A person signed in to an organization of their own, for route tests.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The organization.
    pub org: uuid::Uuid,
    /// The person.
    pub user: uuid::Uuid,
    /// `Bearer <access token>`.
    pub bearer: String,
}

impl Tenant {
    /// A new organization on the Business plan (tests of other things are not held back by
    /// the free plan's limits) with one active user of `role` holding a live session.
    pub async fn create(db: &TestDatabase, role: &str) -> Self {
        let tenant = Self::create_on_free_plan(db, role).await;
        db.connect()
            .await
            .execute(
                "INSERT INTO subscriptions (organization_id, plan_id, status, current_period_start, \
                 current_period_end) SELECT $1, id, 'active', now() - interval '1 day', \
                 now() + interval '29 days' FROM plans WHERE code = 'business'",
                &[&tenant.org],
            )
            .await
            .expect("subscription");
        tenant
    }

    /// A new organization with no subscription (the free plan) and one active user of `role`.
    pub async fn create_on_free_plan(db: &TestDatabase, role: &str) -> Self {
        let client = db.connect().await;
        let slug = format!("org-{}", unique());
        let org: uuid::Uuid = client
            .query_one(
                "INSERT INTO organizations (name, slug) VALUES ('Говь Трейд ХХК', $1) RETURNING id",
                &[&slug],
            )
            .await
            .expect("organization")
            .get(0);
        Self::join(db, org, role).await
    }

    /// Another user of `role` in this tenant's organization.
    pub async fn colleague(&self, db: &TestDatabase, role: &str) -> Self {
        Self::join(db, self.org, role).await
    }

    async fn join(db: &TestDatabase, org: uuid::Uuid, role: &str) -> Self {
        let client = db.connect().await;
        let email = format!("u-{}@example.com", unique());
        let user: uuid::Uuid = client
            .query_one(
                "INSERT INTO users (organization_id, email, role, first_name) VALUES ($1, $2, $3, 'Батбаяр') RETURNING id",
                &[&org, &email, &role],
            )
            .await
            .expect("user")
            .get(0);
        let family = uuid::Uuid::new_v4();
        client
            .execute(
                "INSERT INTO user_sessions (user_id, organization_id, family_id, refresh_token_hash, expires_at)
                 VALUES ($1, $2, $3, $4, now() + interval '30 days')",
                &[&user, &org, &family, &gsign_platform::credentials::new_token().hash],
            )
            .await
            .expect("session");
        let tokens = gsign_platform::credentials::AccessTokens::new(
            &secrecy::SecretString::from(stack_var("GSIGN_ACCESS_TOKEN_KEY")),
            "gsign",
            "gsign-api",
            900,
        )
        .expect("key");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let token = tokens
            .issue(
                &user.to_string(),
                &org.to_string(),
                role,
                &family.to_string(),
                now,
            )
            .expect("token");
        Self {
            org,
            user,
            bearer: format!("Bearer {token}"),
        }
    }
}

/// The newest email to `to` whose body `pick` accepts, and what it picked, once the local SES
/// has it.
async fn newest_mail<T>(to: &str, pick: impl Fn(&str) -> Option<T>) -> T {
    eventually(Duration::from_secs(20), "the email", || async {
        let data: serde_json::Value = reqwest::get(format!(
            "{}/moto-api/data.json",
            stack_var("AWS_ENDPOINT_URL")
        ))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
        data["ses"]["Message"]
            .as_array()?
            .iter()
            .rev()
            .find_map(|m| {
                let to_match = m["destinations"]["ToAddresses"]
                    .as_array()?
                    .iter()
                    .any(|x| x == to);
                to_match.then(|| pick(m["body"].as_str()?)).flatten()
            })
    })
    .await
}

/// The token of the first link under `path` in `body`.
fn link_token(body: &str, path: &str) -> Option<String> {
    // The HTML body escapes `/` (`&#x2f;`): match from the path's last segment.
    let marker = format!("{}?token=", path.trim_start_matches('/'));
    let start = body.find(&marker)? + marker.len();
    Some(
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

/// Confirms `email`'s address through the link mailed to it, as its owner would (an account
/// signs in only once its address is verified).
pub async fn verify_mailed_address(stack_url: &str, email: &str) {
    let token = mailed_token(email, "/verify-email").await;
    let status = reqwest::Client::new()
        .post(format!("{stack_url}/v1/auth/verify-email"))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .expect("the runner answers")
        .status();
    assert_eq!(status.as_u16(), 204, "verifying {email}");
}

/// The token in the newest link mailed to `to` under `path`.
pub async fn mailed_token(to: &str, path: &str) -> String {
    newest_mail(to, |body| link_token(body, path)).await
}

/// The token of the newest link under `path` mailed to `to` in a mail that mentions `about`
/// (one recipient of several envelopes).
pub async fn mailed_token_about(to: &str, about: &str, path: &str) -> String {
    newest_mail(to, |body| {
        body.contains(about)
            .then(|| link_token(body, path))
            .flatten()
    })
    .await
}

/// The tokens of the newest links mailed to each of `to` under `path`, reading the local
/// SES's whole state once per round (for many recipients at once: moto serves that state
/// from one Python process).
pub async fn mailed_tokens(to: &[String], path: &str, timeout: Duration) -> Vec<String> {
    let started = Instant::now();
    loop {
        let data: Option<serde_json::Value> = async {
            reqwest::get(format!(
                "{}/moto-api/data.json",
                stack_var("AWS_ENDPOINT_URL")
            ))
            .await
            .ok()?
            .json()
            .await
            .ok()
        }
        .await;
        let messages = data
            .as_ref()
            .and_then(|d| d["ses"]["Message"].as_array().cloned())
            .unwrap_or_default();
        let found: Vec<Option<String>> = to
            .iter()
            .map(|address| {
                messages.iter().rev().find_map(|m| {
                    let to_match = m["destinations"]["ToAddresses"]
                        .as_array()?
                        .iter()
                        .any(|x| x == address);
                    to_match
                        .then(|| link_token(m["body"].as_str()?, path))
                        .flatten()
                })
            })
            .collect();
        if found.iter().all(Option::is_some) {
            return found.into_iter().flatten().collect();
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for mail to {} recipients",
            found.iter().filter(|f| f.is_none()).count()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The body of the newest email to `to` that contains `text`, once the local SES has it: proof
/// that the outbox row was rendered and sent, not just written.
pub async fn mailed_containing(to: &str, text: &str) -> String {
    newest_mail(to, |body| body.contains(text).then(|| body.to_owned())).await
}
