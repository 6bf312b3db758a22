//! Use-case tests without the runner: an area's service is built from the environment the
//! template gives one of its functions, with a database of the test's own, and its use cases
//! are called directly. No HTTP, no router, no consumers; Postgres, Redis and moto are the
//! real local servers.
//!
//! The template's queues, buckets, tables and keys are provisioned in moto once per test
//! binary (a stack nobody serves: messages the use cases publish stay in its queues), and
//! each test borrows a function's environment from it with its own `DATABASE_URL`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use gsign_core::{Env, Role};
use gsign_local::runner::{self, StackConfig};
use gsign_local::LocalStack;
use gsign_platform::http::Caller;

use crate::{
    inspector_path, local_parameters, root, stack_env, stack_var, unique, Tenant, TestDatabase,
};

/// Every function's environment on the binary's provisioned stack.
fn provisioned() -> &'static BTreeMap<String, Env> {
    static ENVS: OnceLock<BTreeMap<String, Env>> = OnceLock::new();
    ENVS.get_or_init(|| {
        // Built on a thread of its own: the caller may be inside a test's runtime, and the
        // stack's clients must not outlive the runtime that made them (only the strings do).
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                gsign_platform::telemetry::set_metrics_enabled(false);
                let base_env = runner::base_env(stack_env())
                    .with("PDF_INSPECTOR", inspector_path().to_string_lossy())
                    .with("PDF_VERIFIER", inspector_path().to_string_lossy());
                let aws = gsign_platform::aws::config_from(&base_env).expect("valid AWS settings");
                let sdk = gsign_platform::aws::sdk_config(&aws).await;
                let config = StackConfig {
                    template_path: root().join("template.yaml"),
                    stack_name: format!("u-{}", unique()),
                    region: stack_var("AWS_REGION"),
                    parameters: local_parameters(),
                    base_env,
                    sqs_wait_seconds: 1,
                    web_dist: None,
                };
                let stack = LocalStack::build(config, &gsign_local::registry(), &sdk)
                    .await
                    .expect("the template provisions in moto");
                stack
                    .functions()
                    .map(|function| (function.handler.clone(), function.env.clone()))
                    .collect()
            })
        })
        .join()
        .expect("provisioning finished")
    })
}

/// The database backend the binary's tests run on: `GSIGN_TEST_DATABASE_BACKEND`
/// (`postgres`, the default, or `data-api`); CI runs the use-case tests once on each.
pub fn backend() -> gsign_platform::database::Backend {
    std::env::var("GSIGN_TEST_DATABASE_BACKEND")
        .ok()
        .filter(|b| !b.is_empty())
        .map_or(gsign_platform::database::Backend::Postgres, |b| {
            b.parse()
                .unwrap_or_else(|err| panic!("GSIGN_TEST_DATABASE_BACKEND: {err}"))
        })
}

/// The test binary's local Data API endpoint (`gsign_local::data_api`) over the local
/// Postgres, started on first use and served for as long as the binary runs.
pub fn data_api_endpoint() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let api = gsign_local::data_api::DataApi::new(&stack_var("DATABASE_URL"))
                    .expect("the local DATABASE_URL");
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a port for the Data API");
                let address = listener.local_addr().expect("its address");
                let app =
                    axum::Router::new().nest_service(gsign_local::data_api::PATH, api.router());
                let _ = sender.send(format!("http://{address}{}", gsign_local::data_api::PATH));
                let _ = axum::serve(listener, app).await;
            });
        });
        receiver.recv().expect("the Data API endpoint started")
    })
}

/// The environment the template gives `function`, with `db` as its database, reached through
/// the binary's [`backend`].
pub fn function_env(function: &str, db: &TestDatabase) -> Env {
    function_env_on(backend(), function, db)
}

/// [`function_env`] on the given backend (benchmarks compare both in one run).
pub fn function_env_on(
    backend: gsign_platform::database::Backend,
    function: &str,
    db: &TestDatabase,
) -> Env {
    let env = provisioned()
        .get(function)
        .unwrap_or_else(|| panic!("{function} is not in the template"))
        .clone()
        .with("DATABASE_URL", &db.url);
    match backend {
        gsign_platform::database::Backend::Postgres => env,
        gsign_platform::database::Backend::DataApi => env
            .with("DATABASE_BACKEND", "data-api")
            .with(
                "DATABASE_CLUSTER_ARN",
                "arn:aws:rds:us-east-1:000000000000:cluster:gsign-local",
            )
            .with(
                "DATABASE_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:gsign-local-db",
            )
            .with("DATABASE_NAME", &db.name)
            .with("DATABASE_DATA_API_ENDPOINT_URL", data_api_endpoint()),
    }
}

/// `tenant`'s person acting with `role`, as the authorizer would have let them in.
pub fn caller(tenant: &Tenant, role: Role) -> Caller {
    Caller {
        org: tenant.org,
        role,
        user: Some(tenant.user),
        api_key: None,
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("use-case test".to_owned()),
    }
}

/// The `id` of a use case's answer, as its JSON says.
pub fn id_of(answer: impl serde::Serialize) -> uuid::Uuid {
    let answer = serde_json::to_value(answer).expect("an answer serializes");
    answer["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {answer}"))
}

/// A one-page Letter document of `tenant`'s organization in `status` (`ready`: as ingest
/// leaves it; its bytes are not in S3), written straight to its table.
pub async fn document_row(db: &TestDatabase, tenant: &Tenant, status: &str) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    let ready = status == "ready";
    db.connect()
        .await
        .execute(
            "INSERT INTO documents (id, organization_id, name, original_name, type, mime_type, \
             size, s3_key, status, page_count, pages, hash, pdf_hash, pdf_s3_key) \
             VALUES ($1, $2, 'contract.pdf', 'contract.pdf', 'pdf', 'application/pdf', 1024, \
             $3, $4, $5, $6, $7, $7, $8)",
            &[
                &id,
                &tenant.org,
                &format!("documents/{id}/original.pdf"),
                &status,
                &ready.then_some(1),
                &ready
                    .then(|| serde_json::json!([{"width": 612.0, "height": 792.0, "rotation": 0}])),
                &ready.then(|| "ab".repeat(32)),
                &ready.then(|| format!("documents/{id}/original.pdf")),
            ],
        )
        .await
        .expect("a document");
    id
}

/// A request body of a use case, from its JSON.
pub fn body<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a well-formed body")
}
