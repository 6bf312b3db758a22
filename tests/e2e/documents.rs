//! Documents end to end: declare, PUT to the presigned URL, S3 -> SQS -> ingest, download;
//! bad files, tenancy, legal hold, retention and redelivery. External tools judge the
//! results: `sha256sum`, `pdfinfo`, `qpdf --check`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use gsign_functions_documents::store;
use gsign_platform::storage::{DocumentStore, RetentionMode};
use gsign_tests::{eventually, root, sdk, start_app, Tenant, TestDatabase, TestStack};
use serde_json::{json, Value};

const PDF: &str = "application/pdf";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn fixture(name: &str) -> PathBuf {
    root().join("shared/pdf/fixtures").join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Declares a document and PUTs `bytes` to its presigned URL, as a client would with curl.
async fn upload(
    stack: &TestStack,
    who: &Tenant,
    file_name: &str,
    content_type: &str,
    bytes: Vec<u8>,
    declared_size: usize,
) -> Value {
    let (status, created) = stack
        .call(
            who,
            "POST",
            "/v1/documents",
            Some(json!({
                "file_name": file_name,
                "content_type": content_type,
                "size": declared_size,
                "tags": ["e2e"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "processing");
    let upload = &created["upload"];
    assert_eq!(upload["method"], "PUT");
    let mut put = reqwest::Client::new().put(upload["url"].as_str().expect("url"));
    for (name, value) in upload["headers"].as_object().expect("headers") {
        if name != "content-length" {
            put = put.header(name, value.as_str().expect("header value"));
        }
    }
    let response = put.body(bytes).send().await.expect("S3 answers");
    assert!(response.status().is_success(), "PUT: {}", response.status());
    created
}

/// Polls the document until ingest has finished with it.
async fn finished(stack: &TestStack, who: &Tenant, id: &str) -> Value {
    eventually(Duration::from_secs(90), "ingest to finish", || async {
        let (status, doc) = stack
            .call(who, "GET", &format!("/v1/documents/{id}"), None)
            .await;
        assert_eq!(status, 200, "{doc}");
        (doc["status"] != "processing").then_some(doc)
    })
    .await
}

/// Deleting the document is refused with 409 and the problem type `slug`.
async fn deletion_refused(stack: &TestStack, who: &Tenant, id: &str, slug: &str) {
    let (status, problem) = stack
        .call(who, "DELETE", &format!("/v1/documents/{id}"), None)
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        problem["type"],
        format!("https://gsign.dev/problems/{slug}")
    );
}

/// Uploads fixture `fixture` as `file_name` and returns the document once ingest is done.
async fn ingested(
    stack: &TestStack,
    who: &Tenant,
    fixture: &str,
    file_name: &str,
    content_type: &str,
) -> Value {
    let bytes = read_fixture(fixture);
    let size = bytes.len();
    let created = upload(stack, who, file_name, content_type, bytes, size).await;
    finished(stack, who, created["id"].as_str().expect("id")).await
}

fn id_of(doc: &Value) -> String {
    doc["id"].as_str().expect("id").to_owned()
}

async fn download(stack: &TestStack, who: &Tenant, id: &str, variant: &str) -> (Value, Vec<u8>) {
    let (status, link) = stack
        .call(
            who,
            "GET",
            &format!("/v1/documents/{id}/download?variant={variant}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let bytes = reqwest::get(link["url"].as_str().expect("url"))
        .await
        .expect("S3 answers")
        .bytes()
        .await
        .expect("body")
        .to_vec();
    (link, bytes)
}

fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn temp_file(bytes: &[u8], extension: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("gsign-e2e-{}.{extension}", gsign_tests::unique()));
    std::fs::write(&path, bytes).expect("temp file");
    path
}

fn pdfinfo_pages(bytes: &[u8]) -> u64 {
    let file = temp_file(bytes, "pdf");
    let info = tool("pdfinfo", &[&file.to_string_lossy()]);
    let _ = std::fs::remove_file(&file);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo prints Pages")
}

fn sha256sum(path: &std::path::Path) -> String {
    tool("sha256sum", &[&path.to_string_lossy()])
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn queue_depth(stack: &TestStack, queue: &str) -> (i64, i64) {
    let sqs = gsign_platform::aws::sqs(&sdk().await);
    let url = sqs
        .get_queue_url()
        .queue_name(format!("{}-{queue}", stack.name))
        .send()
        .await
        .expect("queue exists")
        .queue_url
        .expect("url");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("attributes");
    let get = |name: aws_sdk_sqs::types::QueueAttributeName| {
        attrs
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    };
    (
        get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
        get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// A connection of the application's own pool type, for calling its repository directly.
async fn app_client(db: &TestDatabase) -> deadpool_postgres::Client {
    let env = gsign_core::Env::from_pairs([
        ("DATABASE_URL", db.url.as_str()),
        ("DATABASE_TLS", "disable"),
    ]);
    let mut r = env.reader();
    let config = gsign_platform::db::DbConfig::read(&mut r);
    let config = r.finish(|| config).expect("database settings");
    gsign_platform::db::pool(&config)
        .expect("pool")
        .get()
        .await
        .expect("connection")
}

fn store(stack: &TestStack, sdk: &aws_config::SdkConfig) -> DocumentStore {
    DocumentStore::new(
        gsign_platform::aws::s3(sdk),
        format!("{}-documents-123456789012", stack.name),
        format!("alias/{}-documents", stack.name),
    )
}

#[tokio::test]
async fn a_pdf_upload_becomes_ready_with_its_pages_and_hash_and_downloads_byte_for_byte() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "member").await;
    let stack = start_app(&db, &[]).await;
    let bytes = read_fixture("three-pages-rotated.pdf");

    let created = upload(
        &stack,
        &ana,
        "Гэрээ 2026.pdf",
        PDF,
        bytes.clone(),
        bytes.len(),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let doc = finished(&stack, &ana, &id).await;

    assert_eq!(doc["status"], "ready", "{doc}");
    assert_eq!(
        doc["sha256"],
        sha256sum(&fixture("three-pages-rotated.pdf"))
    );
    assert_eq!(
        doc["pdf_sha256"], doc["sha256"],
        "a PDF is signed as uploaded"
    );
    assert_eq!(doc["page_count"], 3);
    assert_eq!(doc["page_count"].as_u64(), Some(pdfinfo_pages(&bytes)));
    assert_eq!(doc["pages"][1]["rotation"], 90, "{doc}");
    assert_eq!(doc["mime_type"], PDF);
    assert_eq!(doc["name"], "Гэрээ 2026.pdf");

    let (link, downloaded) = download(&stack, &ana, &id, "original").await;
    assert_eq!(downloaded, bytes, "download returns the same bytes");
    assert_eq!(link["sha256"], doc["sha256"]);
    let url = link["url"].as_str().expect("url");
    assert!(
        url.contains("response-content-disposition=attachment"),
        "{url}"
    );
    assert!(
        url.contains("versionId="),
        "downloads name the ingested version: {url}"
    );
    let (_, pdf) = download(&stack, &ana, &id, "pdf").await;
    assert_eq!(pdf, bytes);

    // Audit trail: created by Ana, made ready by ingest.
    let actions: Vec<String> = db
        .connect()
        .await
        .query(
            "SELECT payload->>'action' FROM outbox WHERE payload->>'resource_id' = $1 ORDER BY created_at",
            &[&id],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["document.created", "document.ready"]);
    stack.stop().await;
}

#[tokio::test]
async fn office_files_become_pdfs_whose_page_count_pdfinfo_and_qpdf_agree_with() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "admin").await;
    let stack = start_app(&db, &[]).await;
    for (file, content_type) in [("sample.docx", DOCX), ("sample.xlsx", XLSX)] {
        let bytes = read_fixture(file);
        let created = upload(&stack, &ana, file, content_type, bytes.clone(), bytes.len()).await;
        let id = created["id"].as_str().expect("id").to_owned();
        let doc = finished(&stack, &ana, &id).await;
        assert_eq!(doc["status"], "ready", "{file}: {doc}");
        assert_eq!(doc["mime_type"], content_type);
        assert_ne!(doc["pdf_sha256"], doc["sha256"], "{file}: converted");

        let (link, pdf) = download(&stack, &ana, &id, "pdf").await;
        assert!(pdf.starts_with(b"%PDF-"), "{file}");
        assert_eq!(
            doc["page_count"].as_u64(),
            Some(pdfinfo_pages(&pdf)),
            "{file}"
        );
        assert_eq!(link["file_name"], format!("{}.pdf", file), "{file}");
        let path = temp_file(&pdf, "pdf");
        tool("qpdf", &["--check", &path.to_string_lossy()]);
        assert_eq!(doc["pdf_sha256"], sha256sum(&path), "{file}");
        let _ = std::fs::remove_file(path);
        let (_, original) = download(&stack, &ana, &id, "original").await;
        assert_eq!(original, bytes, "{file}: the original is kept as uploaded");
    }
    stack.stop().await;
}

#[tokio::test]
async fn every_bad_file_fails_with_its_own_reason_and_nothing_reaches_the_dlq() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "member").await;
    let stack = start_app(&db, &[]).await;
    let pdf = read_fixture("one-page.pdf");
    let as_uploaded = |name: &str, reason: &'static str| {
        let bytes = read_fixture(name);
        let size = bytes.len();
        (name.to_owned(), PDF, bytes, size, reason)
    };
    // (file name, declared type, bytes, declared size, expected reason): each kind of bad
    // file, then the lopdf advisory shapes.
    let cases: Vec<(String, &str, Vec<u8>, usize, &str)> = vec![
        ("zero.pdf".to_owned(), PDF, Vec::new(), 1000, "empty_file"),
        (
            "larger.pdf".to_owned(),
            PDF,
            pdf.clone(),
            pdf.len() - 10,
            "size_mismatch",
        ),
        (
            "declared.docx".to_owned(),
            DOCX,
            pdf.clone(),
            pdf.len(),
            "type_mismatch",
        ),
        as_uploaded("not-a-pdf.pdf", "unsupported_type"),
        as_uploaded("truncated.pdf", "pdf_truncated"),
        as_uploaded("encrypted.pdf", "pdf_encrypted"),
        as_uploaded("mutated.pdf", "pdf_damaged"),
        as_uploaded("flate-bomb.pdf", "pdf_decompression_bomb"),
        as_uploaded("deep-nesting.pdf", "pdf_too_deep"),
        as_uploaded("xref-w000-huge-index.pdf", "pdf_damaged"),
        as_uploaded("broken-inline-image.pdf", "pdf_damaged"),
    ];
    let mut ids = Vec::new();
    for (name, content_type, bytes, size, reason) in &cases {
        let created = upload(&stack, &ana, name, content_type, bytes.clone(), *size).await;
        ids.push((
            name.to_string(),
            created["id"].as_str().expect("id").to_owned(),
            reason.to_string(),
        ));
    }
    for (name, id, reason) in &ids {
        let doc = finished(&stack, &ana, id).await;
        if reason == "ready" {
            assert_eq!(doc["status"], "ready", "{name}: {doc}");
            continue;
        }
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        assert_eq!(doc["failure_reason"], reason.as_str(), "{name}: {doc}");
        assert!(
            doc["failure_detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name}"
        );
        let (status, problem) = stack
            .call(
                &ana,
                "GET",
                &format!("/v1/documents/{id}/download?variant=pdf"),
                None,
            )
            .await;
        assert_eq!(
            (status, problem["failure_reason"].as_str()),
            (409, Some(reason.as_str())),
            "{name}"
        );
    }
    let kinds = &cases[..8];
    let reasons: std::collections::BTreeSet<&str> = kinds.iter().map(|c| c.4).collect();
    assert_eq!(
        reasons.len(),
        kinds.len(),
        "each kind of bad file has its own reason"
    );
    assert_eq!(
        queue_depth(&stack, "document-ingest-dlq").await,
        (0, 0),
        "nothing in the DLQ"
    );
    assert_eq!(
        queue_depth(&stack, "document-ingest").await,
        (0, 0),
        "nothing left to retry"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_missing_converter_fails_office_files_with_a_reason_instead_of_hanging() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "member").await;
    let stack = start_app(
        &db,
        &[("OfficeConverterPath", "/nonexistent/soffice".to_owned())],
    )
    .await;
    let doc = ingested(&stack, &ana, "sample.docx", "sample.docx", DOCX).await;
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(doc["failure_reason"], "converter_unavailable");
    stack.stop().await;
}

#[tokio::test]
async fn redelivering_the_same_s3_event_changes_nothing() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "member").await;
    let stack = start_app(&db, &[]).await;
    let before = ingested(&stack, &ana, "one-page.pdf", "one.pdf", PDF).await;
    let id = id_of(&before);
    let key = format!("uploads/{}/{id}/original.pdf", ana.org);
    let record = json!({"Records": [{
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": format!("{}-documents-123456789012", stack.name)},
               "object": {"key": key.replace('/', "%2F")}}
    }]});
    let event = json!({"Records": [{
        "messageId": "redelivered", "receiptHandle": "x", "body": record.to_string(),
        "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1"
    }]});
    let outbox_rows = || async {
        db.connect()
            .await
            .query_one("SELECT count(*) FROM outbox", &[])
            .await
            .expect("count")
            .get::<_, i64>(0)
    };
    let rows = outbox_rows().await;
    for _ in 0..2 {
        let answer = stack
            .running
            .stack
            .invoke("sqs-ingest-document", event.clone())
            .await
            .expect("invoke");
        assert_eq!(answer["batchItemFailures"], json!([]));
    }
    let (_, after) = stack
        .call(&ana, "GET", &format!("/v1/documents/{id}"), None)
        .await;
    assert_eq!(after, before);
    assert_eq!(outbox_rows().await, rows, "no new audit events");
    stack.stop().await;
}

#[tokio::test]
async fn documents_are_listed_filtered_paginated_renamed_and_deleted() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "member").await;
    let viewer = ana.colleague(&db, "viewer").await;
    let stack = start_app(&db, &[]).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let name = format!("contract-{i}.pdf");
        ids.push(id_of(
            &ingested(&stack, &ana, "one-page.pdf", &name, PDF).await,
        ));
    }
    let (status, page) = stack
        .call(&viewer, "GET", "/v1/documents?limit=2&status=ready", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let first: Vec<&str> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(first, [ids[2].as_str(), ids[1].as_str()], "newest first");
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, rest) = stack
        .call(
            &viewer,
            "GET",
            &format!("/v1/documents?limit=2&status=ready&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["data"][0]["id"], ids[0].as_str());
    assert_eq!(rest["next_cursor"], Value::Null);

    let (status, renamed) = stack.call(&ana, "PATCH", &format!("/v1/documents/{}", ids[0]),
        Some(json!({"name": "Түрээсийн гэрээ", "tags": ["lease", "2026"], "metadata": {"ref": "A-1"}})),
    ).await;
    assert_eq!(status, 200, "{renamed}");
    // The cached copy was dropped: the next read sees the change.
    let (_, got) = stack
        .call(&viewer, "GET", &format!("/v1/documents/{}", ids[0]), None)
        .await;
    assert_eq!(
        (got["name"].as_str(), got["tags"].clone()),
        (Some("Түрээсийн гэрээ"), json!(["lease", "2026"]))
    );
    let (_, tagged) = stack
        .call(&viewer, "GET", "/v1/documents?tag=lease", None)
        .await;
    assert_eq!(tagged["data"].as_array().map(Vec::len), Some(1));
    let (_, named) = stack
        .call(&viewer, "GET", "/v1/documents?name=%25", None)
        .await;
    assert_eq!(
        named["data"].as_array().map(Vec::len),
        Some(0),
        "% matches literally"
    );

    let (status, problem) = stack
        .call(
            &viewer,
            "DELETE",
            &format!("/v1/documents/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    let (status, _) = stack
        .call(&ana, "DELETE", &format!("/v1/documents/{}", ids[0]), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = stack
        .call(&ana, "GET", &format!("/v1/documents/{}", ids[0]), None)
        .await;
    assert_eq!(
        status, 404,
        "a deleted document is gone from the API (and the cache)"
    );

    // Bad input: every problem listed, never a 500.
    let (status, problem) = stack
        .call(
            &ana,
            "POST",
            "/v1/documents",
            Some(json!({"file_name": "", "content_type": "image/png", "size": 1_000_000_000})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"].as_array().map(Vec::len),
        Some(3),
        "{problem}"
    );
    let (status, _) = stack
        .call(&ana, "GET", "/v1/documents?cursor=nonsense", None)
        .await;
    assert_eq!(status, 422);
    let (status, _) = stack
        .call(&ana, "GET", "/v1/documents/not-a-uuid", None)
        .await;
    assert_eq!(status, 404);
    stack.stop().await;
}

#[tokio::test]
async fn another_tenants_document_ids_answer_404_on_every_route() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "owner").await;
    let eve = Tenant::create(&db, "owner").await;
    let stack = start_app(&db, &[]).await;
    // Ingested, so cached now: the cache must not leak it either.
    let id = id_of(&ingested(&stack, &ana, "one-page.pdf", "mine.pdf", PDF).await);
    for (method, path, body) in [
        ("GET", format!("/v1/documents/{id}"), None),
        (
            "PATCH",
            format!("/v1/documents/{id}"),
            Some(json!({"name": "x"})),
        ),
        ("GET", format!("/v1/documents/{id}/download"), None),
        ("DELETE", format!("/v1/documents/{id}"), None),
        (
            "PUT",
            format!("/v1/documents/{id}/legal-hold"),
            Some(json!({"enabled": true})),
        ),
    ] {
        let (status, problem) = stack.call(&eve, method, &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
        assert_eq!(
            problem["type"], "https://gsign.dev/problems/not-found",
            "{problem}"
        );
    }
    let (_, list) = stack.call(&eve, "GET", "/v1/documents", None).await;
    assert_eq!(list["data"], json!([]));
    let (_, doc) = stack
        .call(&ana, "GET", &format!("/v1/documents/{id}"), None)
        .await;
    assert_eq!(
        (doc["name"].as_str(), doc["legal_hold"].as_bool()),
        (Some("mine.pdf"), Some(false))
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_document_under_legal_hold_cannot_be_deleted_in_the_api_or_in_s3() {
    let db = TestDatabase::migrated().await;
    let admin = Tenant::create(&db, "admin").await;
    let member = admin.colleague(&db, "member").await;
    let stack = start_app(&db, &[]).await;
    let id = id_of(&ingested(&stack, &member, "sample.docx", "held.docx", DOCX).await);

    let hold = Some(json!({"enabled": true, "reason": "Litigation 2026-114"}));
    let (status, _) = stack
        .call(
            &member,
            "PUT",
            &format!("/v1/documents/{id}/legal-hold"),
            hold.clone(),
        )
        .await;
    assert_eq!(status, 403, "members cannot place holds");
    let (status, doc) = stack
        .call(
            &admin,
            "PUT",
            &format!("/v1/documents/{id}/legal-hold"),
            hold,
        )
        .await;
    assert_eq!(
        (status, doc["legal_hold"].as_bool()),
        (200, Some(true)),
        "{doc}"
    );

    deletion_refused(&stack, &member, &id, "document-under-legal-hold").await;

    // S3 itself refuses, for the original and the converted PDF alike.
    let sdk = sdk().await;
    let s3 = gsign_platform::aws::s3(&sdk);
    let row = store::get(
        &app_client(&db).await,
        admin.org,
        id.parse().expect("uuid"),
        false,
    )
    .await
    .expect("query")
    .expect("row");
    let objects = row.objects();
    assert_eq!(objects.len(), 2, "original and conversion");
    for object in &objects {
        let held = s3
            .get_object_legal_hold()
            .bucket(format!("{}-documents-123456789012", stack.name))
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
            .expect("legal hold");
        assert_eq!(
            held.legal_hold()
                .and_then(|h| h.status())
                .map(|s| s.as_str()),
            Some("ON")
        );
        let deleted = s3
            .delete_object()
            .bucket(format!("{}-documents-123456789012", stack.name))
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await;
        assert!(
            deleted.is_err(),
            "S3 deleted a held version of {}",
            object.key
        );
    }

    let release = Some(json!({"enabled": false}));
    let (status, _) = stack
        .call(
            &admin,
            "PUT",
            &format!("/v1/documents/{id}/legal-hold"),
            release,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = stack
        .call(&member, "DELETE", &format!("/v1/documents/{id}"), None)
        .await;
    assert_eq!(status, 204);
    // Released and deleted: every version of both objects is erased, not just hidden.
    for object in &objects {
        let versions = s3
            .list_object_versions()
            .bucket(format!("{}-documents-123456789012", stack.name))
            .prefix(&object.key)
            .send()
            .await
            .expect("versions");
        assert!(
            versions.versions().is_empty() && versions.delete_markers().is_empty(),
            "bytes of a deleted document remain under {}: {versions:?}",
            object.key
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn retention_and_envelopes_block_deletion() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "owner").await;
    let stack = start_app(&db, &[]).await;
    let sdk = sdk().await;
    let mut ids = Vec::new();
    for name in ["retained.pdf", "in-use.pdf"] {
        ids.push(id_of(
            &ingested(&stack, &ana, "one-page.pdf", name, PDF).await,
        ));
    }
    // Retention, as the envelope completion applies it: 7 years from completion.
    let client = app_client(&db).await;
    let doc = store::get(&client, ana.org, ids[0].parse().expect("uuid"), false)
        .await
        .expect("query")
        .expect("row");
    let until = gsign_core::documents::retention_until(chrono::Utc::now());
    let documents = store(&stack, &sdk);
    let cache = gsign_platform::cache::Cache::new(&gsign_platform::cache::CacheConfig {
        url: secrecy::SecretString::from(gsign_tests::stack_var("REDIS_URL")),
        timeout: Duration::from_secs(1),
    })
    .expect("cache");
    gsign_functions_documents::service::retention::retain(
        &client,
        &documents,
        &cache,
        &doc,
        until,
        RetentionMode::Governance,
    )
    .await
    .expect("retain");
    let head = gsign_platform::aws::s3(&sdk)
        .head_object()
        .bucket(documents.bucket())
        .key(&doc.s3_key)
        .set_version_id(doc.s3_version_id.clone())
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("GOVERNANCE")
    );
    assert_eq!(
        head.object_lock_retain_until_date().map(|d| d.secs()),
        Some(until.timestamp())
    );
    let refused = gsign_platform::aws::s3(&sdk)
        .delete_object()
        .bucket(documents.bucket())
        .key(&doc.s3_key)
        .set_version_id(doc.s3_version_id.clone())
        .send()
        .await;
    assert!(refused.is_err(), "S3 deleted a retained version");
    let kept = gsign_platform::aws::s3(&sdk)
        .list_object_versions()
        .bucket(documents.bucket())
        .prefix(&doc.s3_key)
        .send()
        .await
        .expect("versions");
    assert_eq!(kept.versions().len(), 1, "a retained document's bytes stay");
    deletion_refused(&stack, &ana, &ids[0], "document-under-retention").await;
    let (_, view) = stack
        .call(&ana, "GET", &format!("/v1/documents/{}", ids[0]), None)
        .await;
    assert!(view["retention_until"].is_string(), "{view}");

    client
        .execute(
            "INSERT INTO envelopes (organization_id, document_id, name) VALUES ($1, $2, 'Lease')",
            &[&ana.org, &ids[1].parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("envelope");
    deletion_refused(&stack, &ana, &ids[1], "document-in-use").await;
    stack.stop().await;
}

#[tokio::test]
async fn bytes_a_deletion_left_behind_are_erased_by_the_schedule() {
    let db = TestDatabase::migrated().await;
    let ana = Tenant::create(&db, "owner").await;
    let stack = start_app(&db, &[]).await;
    let s3 = gsign_platform::aws::s3(&sdk().await);
    let bucket = format!("{}-documents-123456789012", stack.name);
    let client = app_client(&db).await;
    let erased_at = |id: uuid::Uuid| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT bytes_erased_at FROM documents WHERE id = $1",
                    &[&id],
                )
                .await
                .expect("row")
                .get::<_, Option<chrono::DateTime<chrono::Utc>>>(0)
        }
    };

    // Deleted through the API: erased at once, and recorded.
    let deleted = id_of(&ingested(&stack, &ana, "one-page.pdf", "gone.pdf", PDF).await);
    let (status, _) = stack
        .call(&ana, "DELETE", &format!("/v1/documents/{deleted}"), None)
        .await;
    assert_eq!(status, 204);
    assert!(erased_at(deleted.parse().expect("uuid")).await.is_some());

    // Deleted, but S3 failed right after the commit: the row says deleted, the bytes remain.
    let left = id_of(&ingested(&stack, &ana, "one-page.pdf", "left.pdf", PDF).await);
    let left: uuid::Uuid = left.parse().expect("uuid");
    let doc = store::get(&client, ana.org, left, false)
        .await
        .expect("query")
        .expect("row");
    client
        .execute(
            "UPDATE documents SET deleted_at = now() - interval '10 minutes' WHERE id = $1",
            &[&left],
        )
        .await
        .expect("deleted without erasing");
    let versions = |key: String| {
        let (s3, bucket) = (&s3, &bucket);
        async move {
            let listed = s3
                .list_object_versions()
                .bucket(bucket)
                .prefix(&key)
                .send()
                .await
                .expect("versions");
            listed.versions().len() + listed.delete_markers().len()
        }
    };
    assert!(versions(doc.s3_key.clone()).await > 0);

    let run = || async {
        stack
            .running
            .stack
            .invoke(
                "schedule-erase-deleted-documents",
                json!({"source": "aws.events"}),
            )
            .await
            .expect("the schedule runs")
    };
    assert_eq!(run().await, json!({"erased": 1, "failed": 0}));
    for object in doc.objects() {
        assert_eq!(versions(object.key).await, 0, "every version is gone");
    }
    assert!(erased_at(left).await.is_some());
    assert_eq!(
        run().await,
        json!({"erased": 0, "failed": 0}),
        "nothing is erased twice"
    );
    stack.stop().await;
}
