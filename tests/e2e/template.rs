use std::collections::BTreeSet;

use gsign_local::template::Template;
use gsign_tests::{local_parameters, root, sdk, start_stack, TestDatabase};
use serde_json::Value;

fn template() -> Template {
    Template::load(&root().join("template.yaml")).expect("template.yaml parses")
}

fn declared_binaries() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let manifest = entry.expect("entry").path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        for line in text.lines() {
            if let Some(name) = line
                .trim()
                .strip_prefix("name = \"")
                .and_then(|l| l.strip_suffix('"'))
            {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

fn sample_events(function: &str) -> Vec<(String, Value)> {
    let dir = root().join("events").join(function);
    let mut events: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|_| panic!("{} is missing", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                event,
            )
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    events
}

#[test]
fn every_template_function_is_served_by_its_area_binary_and_has_sample_events() {
    let binaries = declared_binaries();
    let registry = gsign_local::registry();
    let functions = template().functions().expect("functions");
    assert!(!functions.is_empty());
    for function in functions {
        assert!(
            binaries.contains(&function.binary),
            "no [[bin]] named {}",
            function.binary
        );
        let served = gsign_local::AREAS
            .iter()
            .find(|area| area.binary == function.binary)
            .map(|area| area.functions().map(|f| f.name()).collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(
            served.contains(&function.handler.as_str()),
            "{} names Binary {} and Handler {}, which that binary does not serve (it serves {served:?})",
            function.logical_id,
            function.binary,
            function.handler
        );
        assert!(
            registry.get(&function.handler).is_some(),
            "{} is not in gsign_local::registry()",
            function.handler
        );
        assert!(
            !sample_events(&function.handler).is_empty(),
            "events/{}/ has no event",
            function.handler
        );
    }
}

#[tokio::test]
async fn every_sample_event_runs_through_its_handler() {
    let db = TestDatabase::create().await;
    let migrations = gsign_platform::migrations::embedded().expect("migrations");
    gsign_platform::migrations::up(&db.database(), &migrations, None)
        .await
        .expect("migrate");
    let mut parameters = local_parameters();
    parameters.insert("DatabaseUrl".to_owned(), db.url.clone());
    let stack = start_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        parameters,
    )
    .await;
    for function in template().functions().expect("functions") {
        for (file, event) in sample_events(&function.handler) {
            let answer = stack
                .running
                .stack
                .invoke(&function.handler, event)
                .await
                .unwrap_or_else(|e| panic!("{}/{file}: {e:#}", function.handler));
            let what = format!("{}/{file}: {answer}", function.handler);
            // HTTP sample events name the status they must produce: `<case>.<status>.json`.
            if let Some(status) = file
                .strip_suffix(".json")
                .and_then(|stem| stem.rsplit_once('.'))
                .and_then(|(_, status)| status.parse::<u16>().ok())
            {
                assert_eq!(answer["statusCode"], status, "{what}");
                if status >= 400 {
                    assert_eq!(
                        answer["headers"]["content-type"], "application/problem+json",
                        "{what}"
                    );
                }
                continue;
            }
            // Other functions state what their sample events must produce.
            match function.handler.as_str() {
                "migrate" => {
                    assert!(
                        answer["applied"].is_array() && answer["latest"].as_i64() >= Some(1),
                        "{what}"
                    );
                }
                // Sample credentials are invalid or unknown: refused, without an error.
                "api-authorize" => {
                    assert_eq!(answer, serde_json::json!({"isAuthorized": false}), "{what}")
                }
                // The sample signing job names an envelope that does not exist: nothing to do.
                "sqs-record-audit-event"
                | "sqs-send-email"
                | "sqs-ingest-document"
                | "sqs-sign-envelope"
                | "sqs-fan-out-webhook-event"
                | "sqs-deliver-webhook"
                // The sample announcement is of an envelope issued for no pack: nothing to show.
                | "sqs-track-pack-document"
                // The sample bounce names a mail GSign never sent: acknowledged, not retried.
                | "sqs-record-mail-event" => {
                    assert_eq!(answer["batchItemFailures"], serde_json::json!([]), "{what}");
                }
                "schedule-sweep-outbox" => assert!(answer["published"].is_u64(), "{what}"),
                "schedule-expire-envelopes" => assert!(answer["expired"].is_u64(), "{what}"),
                "schedule-send-reminders" => assert!(answer["reminded"].is_u64(), "{what}"),
                "schedule-resume-signing" => assert!(answer["resumed"].is_u64(), "{what}"),
                "schedule-purge-sealed-data" => {
                    assert!(answer["envelopes_purged"].is_u64(), "{what}")
                }
                "schedule-erase-deleted-documents" => {
                    assert!(answer["erased"].is_u64() && answer["failed"] == 0, "{what}")
                }
                "schedule-publish-crls" => {
                    assert!(answer["published"].is_u64() && answer["failed"] == 0, "{what}")
                }
                "schedule-renew-archive-timestamps" => {
                    assert!(answer["renewed"].is_u64() && answer["failed"] == 0, "{what}")
                }
                other => panic!("add an expectation for the sample events of {other}"),
            }
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn every_queue_bucket_table_and_key_of_the_template_exists_locally() {
    let stack = start_stack(
        &root().join("template.yaml"),
        &gsign_local::registry(),
        local_parameters(),
    )
    .await;
    let sdk = sdk().await;
    let (s3, sqs, ddb, kms) = (
        gsign_platform::aws::s3(&sdk),
        gsign_platform::aws::sqs(&sdk),
        gsign_platform::aws::dynamodb(&sdk),
        gsign_platform::aws::kms(&sdk),
    );
    let template = template();
    let provisioned = &stack.running.stack.provisioned();
    for (kind, count) in [
        (
            "AWS::SQS::Queue",
            template.resources_of_type("AWS::SQS::Queue").count(),
        ),
        (
            "AWS::S3::Bucket",
            template.resources_of_type("AWS::S3::Bucket").count(),
        ),
        (
            "AWS::DynamoDB::Table",
            template.resources_of_type("AWS::DynamoDB::Table").count(),
        ),
        (
            "AWS::KMS::Key",
            template.resources_of_type("AWS::KMS::Key").count(),
        ),
    ] {
        assert!(count > 0, "the template declares {kind}");
        assert_eq!(
            provisioned
                .iter()
                .filter(|p| p.resource_type == kind)
                .count(),
            count,
            "{kind}"
        );
    }
    for p in provisioned {
        let declared = &template.resource(&p.logical_id).expect("declared")["Properties"];
        match p.resource_type.as_str() {
            "AWS::SQS::Queue" => {
                let attributes = sqs
                    .get_queue_attributes()
                    .queue_url(&p.physical)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", p.logical_id));
                let redrive = attributes
                    .attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy));
                assert_eq!(
                    redrive.is_some(),
                    !declared["RedrivePolicy"].is_null(),
                    "{} redrive",
                    p.logical_id
                );
            }
            "AWS::S3::Bucket" => {
                s3.head_bucket()
                    .bucket(&p.physical)
                    .send()
                    .await
                    .expect("bucket exists");
                // Versioning by behaviour (moto's GetBucketVersioning reply does not parse in
                // the Rust SDK): two writes of one key keep two versions, or one.
                for body in ["v1", "v2"] {
                    s3.put_object()
                        .bucket(&p.physical)
                        .key("probe/versioning")
                        .body(body.as_bytes().to_vec().into())
                        .send()
                        .await
                        .expect("put");
                }
                let versions = s3
                    .list_object_versions()
                    .bucket(&p.physical)
                    .prefix("probe/")
                    .send()
                    .await
                    .expect("versions");
                let versioned = declared["VersioningConfiguration"]["Status"] == "Enabled";
                assert_eq!(
                    versions.versions().len(),
                    if versioned { 2 } else { 1 },
                    "{}: versioning as declared",
                    p.logical_id
                );
                let lock = s3
                    .get_object_lock_configuration()
                    .bucket(&p.physical)
                    .send()
                    .await;
                assert_eq!(
                    lock.ok()
                        .is_some_and(|l| l.object_lock_configuration().is_some()),
                    declared["ObjectLockEnabled"] == true,
                    "{}: object lock as declared",
                    p.logical_id
                );
                let notifications = s3
                    .get_bucket_notification_configuration()
                    .bucket(&p.physical)
                    .send()
                    .await
                    .expect("notifications");
                assert_eq!(
                    notifications.queue_configurations().len(),
                    declared["NotificationConfiguration"]["QueueConfigurations"]
                        .as_array()
                        .map_or(0, Vec::len),
                    "{}: ObjectCreated -> SQS as declared",
                    p.logical_id
                );
            }
            "AWS::DynamoDB::Table" => {
                let table = ddb
                    .describe_table()
                    .table_name(&p.physical)
                    .send()
                    .await
                    .expect("table exists");
                let indexes = table
                    .table()
                    .map(|t| t.global_secondary_indexes().len())
                    .unwrap_or(0);
                assert_eq!(
                    indexes,
                    declared["GlobalSecondaryIndexes"]
                        .as_array()
                        .map_or(0, Vec::len),
                    "{} indexes",
                    p.logical_id
                );
            }
            "AWS::KMS::Key" => {
                let alias = p.alias.clone().expect("every key has an alias");
                let key = kms
                    .describe_key()
                    .key_id(&alias)
                    .send()
                    .await
                    .expect("key by alias");
                assert_eq!(
                    key.key_metadata().map(|m| m.key_id()),
                    Some(p.physical.as_str())
                );
            }
            other => panic!("unexpected provisioned type {other}"),
        }
    }
    stack.stop().await;
}

/// The Python of the SAM CLI's virtual environment (beside `sam` on `PATH`), which holds
/// `aws-sam-translator`.
fn sam_python() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").expect("PATH");
    std::env::split_paths(&path)
        .map(|dir| dir.join("sam"))
        .find(|sam| sam.is_file())
        .and_then(|sam| sam.parent().map(|dir| dir.join("python")))
        .expect("sam on PATH (source .local/stack.env)")
}

/// The root template and every nested stack it names (`infra/stacks/*.yaml`).
fn stack_templates() -> Vec<std::path::PathBuf> {
    let template = Template::parse(
        &std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml"),
    )
    .expect("template.yaml parses");
    let mut paths = vec![root().join("template.yaml")];
    for (id, application) in template.resources_of_type("AWS::Serverless::Application") {
        let location = application["Properties"]["Location"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Location must be a local template"));
        paths.push(root().join(location));
    }
    paths
}

/// CloudFormation refuses a stack of more than 500 resources; every stack keeps 40% of that
/// for what is still to come (issue #24).
const RESOURCE_CEILING: usize = 300;

#[test]
fn every_stack_translates_to_at_most_300_cloudformation_resources() {
    // The SAM translator itself (what `sam deploy` runs), with placeholder code and template
    // locations: the counts are what CloudFormation would be asked to create, per stack.
    let script = r#"
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
class NoManagedPolicies:
    def load(self):
        return {}
for path in sys.argv[1:]:
    template = yaml_parse(open(path).read())
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
        if resource.get("Type") == "AWS::Serverless::Application":
            resource["Properties"]["Location"] = "https://bucket.s3.amazonaws.com/stack.yaml"
    out = transform(template, {}, NoManagedPolicies())
    print(json.dumps([path, len(out["Resources"]), len(out.get("Parameters", {})), len(out.get("Outputs", {}))]))
"#;
    let stacks = stack_templates();
    assert!(stacks.len() > 1, "template.yaml names its nested stacks");
    let output = std::process::Command::new(sam_python())
        .args(["-c", script])
        .args(&stacks)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("the SAM translator runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts: Vec<(String, usize, usize, usize)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a count per stack"))
        .collect();
    assert_eq!(counts.len(), stacks.len());
    let mut too_big = Vec::new();
    for (path, resources, parameters, outputs) in &counts {
        println!(
            "{path}: {resources} CloudFormation resources (ceiling {RESOURCE_CEILING}, limit 500), {parameters} parameters, {outputs} outputs"
        );
        // CloudFormation's other per-stack limits: 200 parameters, 200 outputs.
        if *resources > RESOURCE_CEILING || *parameters > 150 || *outputs > 150 {
            too_big.push(path.clone());
        }
    }
    assert!(
        too_big.is_empty(),
        "split these stacks further: {too_big:?}"
    );
}

#[test]
fn sam_build_builds_each_area_binary_once_for_all_the_functions_it_serves() {
    // SAM CLI's own build graph (what `sam build` would run), without building: functions
    // whose Metadata match share one build.
    let script = r#"
import json, os, sys
from samcli.lib.build.app_builder import ApplicationBuilder
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
stacks, _ = SamLocalStackProvider.get_stacks("template.yaml", parameter_overrides={})
class Resources:
    functions = list(SamFunctionProvider(stacks).get_all())
    layers = []
scratch = sys.argv[1]
builder = ApplicationBuilder(Resources(), os.path.join(scratch, "build"), scratch, os.path.join(scratch, "cache"))
for build in builder._get_build_graph().get_function_build_definitions():
    print(json.dumps([build.metadata["BuildProperties"]["Binary"], len(build.functions)]))
"#;
    // SAM writes its graph (build.toml) beside the build directory: a scratch one of ours.
    let scratch = std::env::temp_dir().join(format!("gsign-sam-graph-{}", gsign_tests::unique()));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let output = std::process::Command::new(sam_python())
        .args(["-c", script])
        .arg(&scratch)
        .current_dir(root())
        .output()
        .expect("the SAM CLI's build graph");
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let builds: Vec<(String, usize)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a build"))
        .collect();
    let mut binaries: Vec<&str> = builds.iter().map(|(binary, _)| binary.as_str()).collect();
    binaries.sort_unstable();
    let mut areas: Vec<&str> = gsign_local::AREAS.iter().map(|area| area.binary).collect();
    areas.sort_unstable();
    assert_eq!(binaries, areas, "one build per area binary: {builds:?}");
    let functions: usize = builds.iter().map(|(_, served)| served).sum();
    assert_eq!(functions, template().functions().expect("functions").len());
}

/// The GSign metrics the alarms and the dashboard watch are metrics the code emits: a renamed
/// metric would leave an alarm that can never fire.
#[test]
fn every_gsign_metric_the_alarms_and_dashboard_watch_is_emitted_by_the_code() {
    let template = template();
    let mut watched = BTreeSet::new();
    for (_, alarm) in template.resources_of_type("AWS::CloudWatch::Alarm") {
        if alarm["Properties"]["Namespace"] == "GSign" {
            watched.insert(
                alarm["Properties"]["MetricName"]
                    .as_str()
                    .expect("MetricName")
                    .to_owned(),
            );
        }
    }
    let (_, dashboard) = template
        .resources_of_type("AWS::CloudWatch::Dashboard")
        .next()
        .expect("the operator's dashboard");
    let body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody is a !Sub text");
    // Placeholders out, the body is JSON CloudWatch can read.
    let mut plain = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        plain.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed placeholder") + start;
        plain.push('x');
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    let document: Value = serde_json::from_str(&plain).expect("the dashboard body is JSON");
    let widgets = document["widgets"].as_array().expect("widgets");
    assert!(widgets.len() >= 8);
    for widget in widgets {
        for metric in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if metric[0] == "GSign" {
                watched.insert(metric[1].as_str().expect("name").to_owned());
            }
            if let Some(expression) = metric["expression"].as_str() {
                let name = expression
                    .split("MetricName=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .expect("a SEARCH naming its metric");
                watched.insert(name.to_owned());
            }
        }
    }
    let mut sources = String::new();
    for dir in ["shared", "functions"] {
        let mut stack = vec![root().join(dir)];
        while let Some(path) = stack.pop() {
            for entry in std::fs::read_dir(&path).expect("dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(&path).expect("source"));
                }
            }
        }
    }
    assert!(watched.len() >= 8, "{watched:?}");
    for name in &watched {
        assert!(
            sources.contains(&format!("\"{name}\"")),
            "{name} is watched but no code emits it"
        );
    }
}
