//! `gsign-local`: the local stack's runner.
//!
//! ```text
//! gsign-local provision [options]           create what template.yaml declares in moto
//! gsign-local serve [options]               provision, then serve HTTP, poll SQS, fire schedules
//! gsign-local invoke FUNCTION [EVENT.json]  run one function on one event (stdin if omitted)
//! gsign-local env FUNCTION...               the environment the template gives them (dotenv)
//! gsign-local openapi                       print the OpenAPI document the operation tables make
//! gsign-local metrics LOG                   the metrics CloudWatch would read from a runner log
//!
//! options: --template PATH    (default template.yaml)
//!          --stack NAME       (default $GSIGN_STACK_NAME or gsign-local)
//!          --parameters FILE  JSON object of parameter overrides
//!          --listen ADDR      (default 127.0.0.1:3000)
//!          --tsa-dir DIR      also serve a timestamp authority at /_local/tsa, configured
//!                             in DIR (infra/local/stack makes it with openssl)
//!          --web-dir DIR      serve the built web app (web/dist) at / as CloudFront would
//! ```
//!
//! It refuses to run without `AWS_ENDPOINT_URL`: the local stack never talks to real AWS.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use gsign_core::Env;
use gsign_local::{LocalStack, StackConfig};

struct Cli {
    command: String,
    positional: Vec<String>,
    template: PathBuf,
    stack: String,
    parameters: Option<PathBuf>,
    listen: SocketAddr,
    tsa_dir: Option<PathBuf>,
    web_dir: Option<PathBuf>,
}

fn parse_cli(env: &Env) -> anyhow::Result<Cli> {
    let mut args = std::env::args().skip(1);
    let command = args
        .next()
        .ok_or_else(|| anyhow!("usage: gsign-local provision|serve|invoke|env ..."))?;
    let mut cli = Cli {
        command,
        positional: Vec::new(),
        template: PathBuf::from("template.yaml"),
        stack: env
            .get("GSIGN_STACK_NAME")
            .unwrap_or("gsign-local")
            .to_owned(),
        parameters: None,
        listen: "127.0.0.1:3000".parse()?,
        tsa_dir: None,
        web_dir: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match arg.as_str() {
            "--template" => cli.template = value("--template")?.into(),
            "--stack" => cli.stack = value("--stack")?,
            "--parameters" => cli.parameters = Some(value("--parameters")?.into()),
            "--tsa-dir" => cli.tsa_dir = Some(value("--tsa-dir")?.into()),
            "--web-dir" => cli.web_dir = Some(value("--web-dir")?.into()),
            "--listen" => {
                cli.listen = value("--listen")?
                    .parse()
                    .context("--listen needs HOST:PORT")?
            }
            flag if flag.starts_with("--") => bail!("unknown option {flag}"),
            _ => cli.positional.push(arg),
        }
    }
    Ok(cli)
}

async fn run(env: Env) -> anyhow::Result<()> {
    let cli = parse_cli(&env)?;
    if cli.command == "metrics" {
        let path = cli
            .positional
            .first()
            .ok_or_else(|| anyhow!("metrics needs the runner's log file"))?;
        let file = std::fs::File::open(path).with_context(|| format!("reading {path}"))?;
        print!(
            "{}",
            gsign_local::metrics::summarize(std::io::BufReader::new(file))
        );
        return Ok(());
    }
    if cli.command == "openapi" {
        // Needs no stack: the document comes from the code's operation tables.
        println!("{}", gsign_local::openapi_json());
        return Ok(());
    }
    let endpoint = env
        .get("AWS_ENDPOINT_URL")
        .ok_or_else(|| anyhow!("AWS_ENDPOINT_URL is not set: the local stack only talks to the local moto server (run infra/local/stack up)"))?;
    let parameters: BTreeMap<String, String> = match &cli.parameters {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{} must be a JSON object of strings", path.display()))?,
        None => BTreeMap::new(),
    };
    let region = env.get("AWS_REGION").unwrap_or("us-east-1").to_owned();
    let aws = gsign_platform::aws::config_from(&env)?;
    let sdk = gsign_platform::aws::sdk_config(&aws).await;
    let config = StackConfig {
        template_path: cli.template.clone(),
        stack_name: cli.stack.clone(),
        region,
        parameters,
        base_env: gsign_local::runner::base_env(&env),
        sqs_wait_seconds: 2,
        web_dist: cli.web_dir.clone(),
    };
    let stack = LocalStack::build(config, &gsign_local::registry(), &sdk).await?;
    match cli.command.as_str() {
        "provision" => {
            for p in &stack.provisioned() {
                println!(
                    "{:<22} {:<26} {}",
                    p.resource_type, p.logical_id, p.physical
                );
            }
            println!("provisioned stack {} at {endpoint}", cli.stack);
            Ok(())
        }
        "serve" => {
            let mut extra = Vec::new();
            if let Some(dir) = cli.tsa_dir {
                // The stack script made root.pem, tsa.key and tsa.pem there.
                gsign_local::tsa::configure(
                    &dir,
                    &dir.join("tsa.key"),
                    &dir.join("tsa.pem"),
                    &dir.join("root.pem"),
                )
                .with_context(|| format!("configuring the local TSA in {}", dir.display()))?;
                let in_service = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
                extra.push(("/_local/tsa", gsign_local::tsa::router(dir, in_service)));
            }
            // Aurora's Data API over the same Postgres, for the `data-api` database backend.
            if let Some(url) = env.get("DATABASE_URL") {
                let api = gsign_local::data_api::DataApi::new(url)
                    .context("DATABASE_URL for the local Data API")?;
                extra.push((gsign_local::data_api::PATH, api.router()));
            }
            let running = gsign_local::runner::start_with(stack, cli.listen, extra).await?;
            tracing::info!(addr = %running.addr, stack = %cli.stack, "local runner serving");
            println!("serving http://{}", running.addr);
            let stop = running.stack.clone();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate() => {}
            }
            drop(stop);
            running.stop().await;
            Ok(())
        }
        "invoke" => {
            let function = cli
                .positional
                .first()
                .ok_or_else(|| anyhow!("usage: gsign-local invoke FUNCTION [EVENT.json]"))?;
            let text = match cli.positional.get(1).map(String::as_str) {
                Some("-") | None => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text)?;
                    text
                }
                Some(path) => {
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?
                }
            };
            let event: serde_json::Value = if text.trim().is_empty() {
                serde_json::json!({})
            } else {
                serde_json::from_str(&text).context("the event is not JSON")?
            };
            let result = stack.invoke(function, event).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        "env" => {
            // What the template gives one function on this stack, for running its area binary
            // outside the runner (`cargo lambda watch --env-file`).
            let [function] = cli.positional.as_slice() else {
                bail!("env takes one function's name");
            };
            let local = stack
                .function(function)
                .ok_or_else(|| anyhow!("no function {function} in the template"))?;
            print!("{}", local.dotenv());
            Ok(())
        }
        other => {
            bail!("unknown command {other}: expected provision, serve, invoke, env, openapi or metrics")
        }
    }
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

fn main() -> ExitCode {
    // The runner serves sqs-ingest-document and api-verify-signatures in-process, so it is
    // also their sandboxed PDF children (as the Lambda binaries are in AWS).
    if let Some(code) = gsign_pdf::child_main_if_requested()
        .or_else(gsign_functions_signatures::service::child_main_if_requested)
    {
        return code;
    }
    let env = Env::from_process();
    gsign_platform::telemetry::init(&env);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("gsign-local: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gsign-local: {err:#}");
            ExitCode::FAILURE
        }
    }
}
