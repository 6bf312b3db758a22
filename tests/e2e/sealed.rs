//! Sealed envelopes end to end through the local runner, checked against a second
//! implementation of the wire format that uses only Python's `cryptography`
//! (`tests/interop/sealed.py`): the script opens what the service sealed and the service opens
//! what the script sealed; a changed byte in any field, an expired envelope, rotated and
//! revoked keys, other tenants, the receiver-only fields, optimistic locking and retention.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use gsign_tests::pki::{open_hsm, run, TestPki};
use gsign_tests::{root, stack_var, start_app, Tenant, TestDatabase, TestStack};
use serde_json::{json, Value};

/// A change made to an envelope on its way.
type Tamper = Box<dyn Fn(&mut Value)>;

fn slug(problem: &Value) -> &str {
    problem["type"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// Runs `tests/interop/sealed.py` with the oracles' Python.
fn python(args: &[&str]) -> (bool, String) {
    let script = root().join("tests/interop/sealed.py");
    let script = script.to_string_lossy().into_owned();
    let mut all = vec![script.as_str()];
    all.extend_from_slice(args);
    run(&stack_var("GSIGN_PYTHON"), &all)
}

async fn key(stack: &TestStack, who: &Tenant, path: &str, body: Value) -> Value {
    let (status, key) = stack.call(who, "POST", path, Some(body)).await;
    assert_eq!(status, 201, "{key}");
    key
}

/// The Python side seals `plaintext` to `receiver_pem` as `partner-sender`; the envelope.
fn python_seal(
    pki: &TestPki,
    plaintext: &[u8],
    receiver_pem: &str,
    receiver_key_id: &str,
    expires_at: Option<&str>,
) -> Value {
    let input = pki.write(&format!("plain-{}", gsign_tests::unique()), plaintext);
    let receiver = pki.write(
        &format!("receiver-{}.pem", gsign_tests::unique()),
        receiver_pem.as_bytes(),
    );
    let sender = pki.dir.join("py/sender.pem").to_string_lossy().into_owned();
    let mut args = vec![
        "seal",
        &input,
        &receiver,
        &sender,
        receiver_key_id,
        "partner-sender",
    ];
    if let Some(at) = expires_at {
        args.push(at);
    }
    let (ok, out) = python(&args);
    assert!(ok, "{out}");
    serde_json::from_str(out.trim()).expect("envelope JSON")
}

/// Imports `envelope` and opens it: the status and answer of `open`.
async fn import_and_open(stack: &TestStack, who: &Tenant, envelope: &Value) -> (u16, Value) {
    let (status, imported) = stack
        .call(who, "POST", "/v1/sealed-envelopes", Some(envelope.clone()))
        .await;
    assert_eq!(status, 201, "{imported}");
    let id = imported["id"].as_str().expect("id");
    stack
        .call(
            who,
            "POST",
            &format!("/v1/sealed-envelopes/{id}/open"),
            None,
        )
        .await
}

/// `value` (base64) with one bit of its byte `at` flipped.
fn flip(value: &Value, at: usize) -> Value {
    let mut bytes = BASE64
        .decode(value.as_str().expect("base64"))
        .expect("decodes");
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x01;
    json!(BASE64.encode(bytes))
}

/// The partner's RSA keys, made by the script in `pki`'s `py/`, registered as
/// `partner-receiver` and `partner-sender` by their public keys: the registered receiver.
async fn register_partner(stack: &TestStack, who: &Tenant, pki: &TestPki) -> Value {
    std::fs::create_dir_all(pki.dir.join("py")).expect("dir");
    let py = pki.dir.join("py").to_string_lossy().into_owned();
    let (ok, out) = python(&["keygen", &py]);
    assert!(ok, "{out}");
    let receiver = key(stack, who, "/v1/crypto-keys", json!({"key_id": "partner-receiver", "key_usage": "receiver", "public_key_pem": partner_pem(pki, "receiver.pub.pem"), "service_name": "partner"})).await;
    key(stack, who, "/v1/crypto-keys", json!({"key_id": "partner-sender", "key_usage": "sender", "public_key_pem": partner_pem(pki, "sender.pub.pem"), "service_name": "partner"})).await;
    receiver
}

/// A PEM file of the partner's keys.
fn partner_pem(pki: &TestPki, name: &str) -> String {
    std::fs::read_to_string(pki.dir.join("py").join(name)).expect("pem")
}

/// The script opens `envelope` with the partner's receiver key, checking the signature of
/// `sender` (a registered key): the plaintext.
fn python_open(pki: &TestPki, envelope: &Value, sender: &Value) -> Vec<u8> {
    let envelope_file = pki.write(
        &format!("envelope-{}.json", gsign_tests::unique()),
        envelope.to_string().as_bytes(),
    );
    let sender_pub = pki.write(
        &format!("sender-{}.pub.pem", gsign_tests::unique()),
        sender["public_key_pem"].as_str().expect("pem").as_bytes(),
    );
    let receiver_private = pki
        .dir
        .join("py/receiver.pem")
        .to_string_lossy()
        .into_owned();
    let (ok, out) = python(&["open", &envelope_file, &receiver_private, &sender_pub]);
    assert!(
        ok,
        "the script could not open the service's envelope: {out}"
    );
    let opened: Value = serde_json::from_str(out.trim()).expect("json");
    BASE64
        .decode(opened["plaintext_base64"].as_str().expect("b64"))
        .expect("b64")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_and_a_python_implementation_open_each_others_envelopes_and_every_change_is_refused(
) {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let stack = start_app(&db, &[("RateLimitSensitivePerIp", "1000".to_owned())]).await;
    let admin = Tenant::create(&db, "admin").await;

    // Our keys in the HSM; the partner's made by the script, registered by their public keys.
    let sender = key(
        &stack,
        &admin,
        "/v1/crypto-keys/generate",
        json!({"key_id": "gsign-sender-1", "key_usage": "sender", "key_algorithm": "RSA-2048"}),
    )
    .await;
    let receiver = key(
        &stack,
        &admin,
        "/v1/crypto-keys/generate",
        json!({"key_id": "gsign-receiver-1", "key_usage": "receiver", "key_algorithm": "RSA-2048"}),
    )
    .await;
    assert!(
        sender["key_storage_location"]
            .as_str()
            .unwrap_or_default()
            .starts_with("hsm:"),
        "{sender}"
    );
    let partner_receiver = register_partner(&stack, &admin, &pki).await;
    assert_eq!(partner_receiver["key_algorithm"], "RSA-3072");
    assert_eq!(
        partner_receiver["public_key_hash"].as_str().map(str::len),
        Some(64)
    );

    // The service seals; the script opens with the receiver's key (exported only here).
    let text = "Нууц: гэрээний үнэ 1,250,000₮ — only for the receiver.";
    let (status, prompt) = stack
        .call(
            &admin,
            "POST",
            "/v1/prompts",
            Some(json!({"prompt_text": text, "prompt_metadata": {"deal": "118"}})),
        )
        .await;
    assert_eq!(status, 201, "{prompt}");
    let prompt_id = prompt["id"].as_str().expect("id").to_owned();
    let (status, sealed) = stack
        .call(&admin, "POST", &format!("/v1/prompts/{prompt_id}/seal"), Some(json!({"receiver_key_id": "partner-receiver", "metadata": {"purpose": "interop"}, "expires_at": "2031-01-01T00:00:00Z"})))
        .await;
    assert_eq!(status, 201, "{sealed}");
    assert_eq!(sealed["sealed"]["sender_private_key_id"], "gsign-sender-1");
    assert_eq!(
        python_open(&pki, &sealed["sealed"], &sender),
        text.as_bytes()
    );

    // The script seals; the service opens with its HSM key.
    let receiver_pem = receiver["public_key_pem"].as_str().expect("pem").to_owned();
    let from_python = python_seal(
        &pki,
        "Сайн байна уу, GSign".as_bytes(),
        &receiver_pem,
        "gsign-receiver-1",
        None,
    );
    let (status, opened) = import_and_open(&stack, &admin, &from_python).await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["plaintext"], "Сайн байна уу, GSign");
    assert_eq!(opened["metadata"]["язык"], "монгол");

    // Any changed byte of any field: refused with a reason, and recorded.
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "encrypted_data",
            Box::new(|e: &mut Value| e["encrypted_data"] = flip(&e["encrypted_data"], 3)),
            "bad_signature",
        ),
        (
            "iv",
            Box::new(|e: &mut Value| e["iv"] = flip(&e["iv"], 0)),
            "bad_signature",
        ),
        (
            "auth_tag",
            Box::new(|e: &mut Value| e["auth_tag"] = flip(&e["auth_tag"], 15)),
            "bad_signature",
        ),
        (
            "encrypted_key",
            Box::new(|e: &mut Value| e["encrypted_key"] = flip(&e["encrypted_key"], 100)),
            "bad_signature",
        ),
        (
            "signature",
            Box::new(|e: &mut Value| e["signature"] = flip(&e["signature"], 7)),
            "bad_signature",
        ),
        (
            "metadata",
            Box::new(|e: &mut Value| e["metadata"]["origin"] = json!("pythoN")),
            "bad_signature",
        ),
        (
            "expires_at",
            Box::new(|e: &mut Value| e["expires_at"] = json!("2099-01-01T00:00:00Z")),
            "bad_signature",
        ),
        (
            "sender_private_key_id",
            Box::new(|e: &mut Value| e["sender_private_key_id"] = json!("gsign-sender-1")),
            "bad_signature",
        ),
        (
            "receiver_public_key_id",
            Box::new(|e: &mut Value| e["receiver_public_key_id"] = json!("partner-receiver")),
            "bad_signature",
        ),
        (
            "unknown sender",
            Box::new(|e: &mut Value| e["sender_private_key_id"] = json!("nobody")),
            "unknown_sender_key",
        ),
    ];
    for (field, change, reason) in cases {
        let mut envelope = python_seal(&pki, b"tamper me", &receiver_pem, "gsign-receiver-1", None);
        change(&mut envelope);
        let (status, problem) = import_and_open(&stack, &admin, &envelope).await;
        assert_eq!(
            (status, slug(&problem)),
            (422, "sealed-envelope-refused"),
            "{field}: {problem}"
        );
        assert_eq!(problem["reason"], reason, "{field}: {problem}");
    }
    let client = db.connect().await;
    let refused: i64 = client
        .query_one(
            "SELECT count(*) FROM envelope_decryptions WHERE organization_id = $1 AND NOT decryption_successful \
             AND NOT signature_verified AND error_message IN ('bad_signature', 'unknown_sender_key')",
            &[&admin.org],
        )
        .await
        .expect("log")
        .get(0);
    assert_eq!(refused, 10, "every refusal is recorded");
    // The keys were cached meanwhile: an untouched envelope still opens.
    let untouched = python_seal(&pki, b"still fine", &receiver_pem, "gsign-receiver-1", None);
    let (status, opened) = import_and_open(&stack, &admin, &untouched).await;
    assert_eq!(
        (status, opened["plaintext"].as_str()),
        (200, Some("still fine")),
        "{opened}"
    );

    // Expired: the signature holds, the answer is 410, the attempt recorded as such.
    let expired = python_seal(
        &pki,
        b"too late",
        &receiver_pem,
        "gsign-receiver-1",
        Some("2020-01-01T00:00:00Z"),
    );
    let (status, problem) = import_and_open(&stack, &admin, &expired).await;
    assert_eq!(
        (status, slug(&problem)),
        (410, "sealed-envelope-expired"),
        "{problem}"
    );
    let row = client
        .query_one(
            "SELECT signature_verified, decryption_successful, error_message, decrypted_by FROM envelope_decryptions \
             WHERE envelope_id = $1",
            &[&expired["id"].as_str().expect("id").parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("recorded");
    assert!(row.get::<_, bool>(0) && !row.get::<_, bool>(1));
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("expired"));
    assert_eq!(row.get::<_, String>(3), format!("user:{}", admin.user));

    // Rotation: what was sealed to the old key still opens; sealing to it uses the new one.
    let before_rotation = python_seal(
        &pki,
        b"sealed before rotation",
        &receiver_pem,
        "gsign-receiver-1",
        None,
    );
    let (status, rotated) = stack
        .call(
            &admin,
            "POST",
            &format!(
                "/v1/crypto-keys/{}/rotate",
                receiver["id"].as_str().expect("id")
            ),
            Some(json!({"key_id": "gsign-receiver-2"})),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let (status, opened) = import_and_open(&stack, &admin, &before_rotation).await;
    assert_eq!(
        (status, opened["plaintext"].as_str()),
        (200, Some("sealed before rotation")),
        "{opened}"
    );
    let (status, to_self) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/prompts/{prompt_id}/seal"),
            Some(json!({"receiver_key_id": "gsign-receiver-1"})),
        )
        .await;
    assert_eq!(status, 201, "{to_self}");
    assert_eq!(
        to_self["sealed"]["receiver_public_key_id"],
        "gsign-receiver-2"
    );
    let to_self_id = to_self["id"].as_str().expect("id").to_owned();
    let (status, opened) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/sealed-envelopes/{to_self_id}/open"),
            None,
        )
        .await;
    assert_eq!(
        (status, opened["plaintext"].as_str()),
        (200, Some(text)),
        "{opened}"
    );

    // Revoked: nothing opens with it, nothing is sealed to it.
    let (status, revoked) = stack
        .call(
            &admin,
            "POST",
            &format!(
                "/v1/crypto-keys/{}/revoke",
                rotated["id"].as_str().expect("id")
            ),
            Some(json!({"reason": "laptop lost"})),
        )
        .await;
    assert_eq!(
        (status, revoked["status"].as_str()),
        (200, Some("revoked")),
        "{revoked}"
    );
    let (status, problem) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/sealed-envelopes/{to_self_id}/open"),
            None,
        )
        .await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (422, Some("receiver_key_revoked")),
        "{problem}"
    );
    let (status, problem) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/prompts/{prompt_id}/seal"),
            Some(json!({"receiver_key_id": "gsign-receiver-2"})),
        )
        .await;
    assert_eq!((status, slug(&problem)), (409, "key-unusable"), "{problem}");

    // An expired key seals nothing new.
    let expiring = key(
        &stack,
        &admin,
        "/v1/crypto-keys",
        json!({"key_id": "partner-expiring", "key_usage": "receiver", "public_key_pem": partner_pem(&pki, "receiver.pub.pem"),
               "expires_at": "2030-01-01T00:00:00Z"}),
    )
    .await;
    client
        .execute(
            "UPDATE cryptographic_keys SET expires_at = now() - interval '1 minute' WHERE id = $1",
            &[&expiring["id"]
                .as_str()
                .expect("id")
                .parse::<uuid::Uuid>()
                .expect("uuid")],
        )
        .await
        .expect("age");
    let (status, problem) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/prompts/{prompt_id}/seal"),
            Some(json!({"receiver_key_id": "partner-expiring"})),
        )
        .await;
    assert_eq!((status, slug(&problem)), (409, "key-unusable"), "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{problem}"
    );

    // The registry reads a page at a time, newest first: two by two, every key once.
    let (status, all) = stack
        .call(&admin, "GET", "/v1/crypto-keys?limit=100", None)
        .await;
    assert_eq!(status, 200, "{all}");
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|k| k["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let mut paged = Vec::new();
    let mut path = "/v1/crypto-keys?limit=2".to_owned();
    loop {
        let (status, page) = stack.call(&admin, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/crypto-keys?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert!(paged.len() > 2, "{all}");
    assert_eq!(paged, ids(&all));

    // The private keys cannot be read from the HSM.
    let hsm = open_hsm();
    for key in [&sender, &receiver, &rotated] {
        let id = hex::decode(
            key["key_storage_location"]
                .as_str()
                .expect("loc")
                .trim_start_matches("hsm:"),
        )
        .expect("hex");
        assert!(!hsm.private_key_is_readable(&id).expect("asked"), "{key}");
    }

    // Members read metadata only and cannot open; other tenants see nothing.
    let member = admin.colleague(&db, "member").await;
    let (status, metadata) = stack
        .call(
            &member,
            "GET",
            &format!("/v1/sealed-envelopes/{to_self_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{metadata}");
    assert!(
        metadata.get("sealed").is_none()
            && metadata["receiver_public_key_id"] == "gsign-receiver-2",
        "{metadata}"
    );
    let (status, full) = stack
        .call(
            &admin,
            "GET",
            &format!("/v1/sealed-envelopes/{to_self_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(full["sealed"]["encrypted_data"].is_string(), "{full}");
    let (status, _) = stack
        .call(
            &member,
            "POST",
            &format!("/v1/sealed-envelopes/{to_self_id}/open"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    // A member reads one key of the registry by its id: the revoked one says so.
    let (status, one) = stack
        .call(
            &member,
            "GET",
            &format!("/v1/crypto-keys/{}", rotated["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(
        (status, one["key_id"].as_str(), one["status"].as_str()),
        (200, Some("gsign-receiver-2"), Some("revoked")),
        "{one}"
    );
    let eve = Tenant::create(&db, "admin").await;
    for (method, path, body) in [
        ("GET", format!("/v1/prompts/{prompt_id}"), None),
        (
            "GET",
            format!("/v1/crypto-keys/{}", sender["id"].as_str().expect("id")),
            None,
        ),
        (
            "POST",
            format!("/v1/prompts/{prompt_id}/seal"),
            Some(json!({"receiver_key_id": "partner-receiver"})),
        ),
        ("GET", format!("/v1/sealed-envelopes/{to_self_id}"), None),
        (
            "POST",
            format!("/v1/sealed-envelopes/{to_self_id}/open"),
            None,
        ),
        (
            "POST",
            format!(
                "/v1/crypto-keys/{}/revoke",
                sender["id"].as_str().expect("id")
            ),
            Some(json!({"reason": "x"})),
        ),
    ] {
        let (status, problem) = stack.call(&eve, method, &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
    }
    // Importing under an id another tenant uses is answered as an unknown id: no oracle.
    let (status, problem) = stack
        .call(
            &eve,
            "POST",
            "/v1/sealed-envelopes",
            Some(full["sealed"].clone()),
        )
        .await;
    assert_eq!(status, 404, "{problem}");

    // Optimistic locking on prompts.
    let (status, updated) = stack
        .call(
            &admin,
            "PATCH",
            &format!("/v1/prompts/{prompt_id}"),
            Some(json!({"version": 1, "prompt_text": "v2"})),
        )
        .await;
    assert_eq!(
        (status, updated["version"].as_i64()),
        (200, Some(2)),
        "{updated}"
    );
    let (status, conflict) = stack
        .call(
            &admin,
            "PATCH",
            &format!("/v1/prompts/{prompt_id}"),
            Some(json!({"version": 1, "prompt_text": "v3"})),
        )
        .await;
    assert_eq!(
        (status, slug(&conflict), conflict["version"].as_i64()),
        (409, "version-conflict", Some(2)),
        "{conflict}"
    );
    let (_, read) = stack
        .call(&admin, "GET", &format!("/v1/prompts/{prompt_id}"), None)
        .await;
    assert_eq!(read["prompt_text"], "v2", "the cache was cleared on update");

    // Retention: what is due is purged, and the schedule says what it did.
    client
        .execute(
            "UPDATE sealed_envelopes SET expires_at = now() - interval '400 days' WHERE id = $1",
            &[&expired["id"]
                .as_str()
                .expect("id")
                .parse::<uuid::Uuid>()
                .expect("uuid")],
        )
        .await
        .expect("age");
    client
        .execute("UPDATE envelope_decryptions SET decrypted_at = now() - interval '8 years' WHERE organization_id = $1 AND error_message = 'bad_signature'", &[&admin.org])
        .await
        .expect("age");
    let (status, _) = stack
        .call(&admin, "DELETE", &format!("/v1/prompts/{prompt_id}"), None)
        .await;
    assert_eq!(status, 204);
    client
        .execute(
            "UPDATE prompts SET created_at = now() - interval '8 years' WHERE id = $1",
            &[&prompt_id.parse::<uuid::Uuid>().expect("uuid")],
        )
        .await
        .expect("age");
    let answer = stack
        .running
        .stack
        .invoke(
            "schedule-purge-sealed-data",
            json!({"source": "aws.events"}),
        )
        .await
        .expect("the schedule runs");
    assert!(answer["envelopes_purged"].as_u64() >= Some(1), "{answer}");
    assert!(
        answer["decryption_logs_purged"].as_u64() >= Some(9),
        "{answer}"
    );
    assert!(answer["prompts_purged"].as_u64() >= Some(1), "{answer}");
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM envelope_decryptions WHERE envelope_id = $1",
            &[&expired["id"]
                .as_str()
                .expect("id")
                .parse::<uuid::Uuid>()
                .expect("uuid")],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(left, 1, "the expired envelope's log outlives the envelope");
    stack.stop().await;
}

/// A KMS client on the local stack's LocalStack KMS, where `SEALED_KEY_STORE=kms` keys live.
async fn sealed_kms() -> aws_sdk_kms::Client {
    let env = gsign_tests::stack_env()
        .clone()
        .with("AWS_ENDPOINT_URL", stack_var("GSIGN_SEALED_KMS_URL"));
    let aws = gsign_platform::aws::config_from(&env).expect("AWS settings");
    gsign_platform::aws::kms(&gsign_platform::aws::sdk_config(&aws).await)
}

/// The ARN of a key the registry holds in KMS.
fn kms_arn(key: &Value) -> String {
    let location = key["key_storage_location"].as_str().unwrap_or_default();
    location
        .strip_prefix("kms:arn:aws:kms:")
        .map(|_| location["kms:".len()..].to_owned())
        .unwrap_or_else(|| panic!("not a KMS key: {key}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_kms_key_store_keys_are_made_in_kms_envelopes_interoperate_and_revoking_disables_the_kms_key(
) {
    let db = TestDatabase::migrated().await;
    let pki = TestPki::new();
    let stack = start_app(
        &db,
        &[
            ("SealedKeyStore", "kms".to_owned()),
            ("RateLimitSensitivePerIp", "1000".to_owned()),
        ],
    )
    .await;
    let admin = Tenant::create(&db, "admin").await;
    let kms = sealed_kms().await;

    // Generated keys are KMS keys of the right usage, tagged with their organization, and
    // the registry holds the public half KMS gives.
    let sender = key(
        &stack,
        &admin,
        "/v1/crypto-keys/generate",
        json!({"key_id": "kms-sender-1", "key_usage": "sender", "key_algorithm": "RSA-3072"}),
    )
    .await;
    let receiver = key(
        &stack,
        &admin,
        "/v1/crypto-keys/generate",
        json!({"key_id": "kms-receiver-1", "key_usage": "receiver", "key_algorithm": "RSA-2048"}),
    )
    .await;
    for (registered, usage, bits) in [
        (
            &sender,
            aws_sdk_kms::types::KeyUsageType::SignVerify,
            "RSA-3072",
        ),
        (
            &receiver,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
            "RSA-2048",
        ),
    ] {
        let arn = kms_arn(registered);
        let described = kms
            .describe_key()
            .key_id(&arn)
            .send()
            .await
            .expect("KMS knows the key");
        let metadata = described.key_metadata().expect("metadata");
        assert_eq!(metadata.key_usage(), Some(&usage), "{registered}");
        assert_eq!(registered["key_algorithm"], bits);
        let tags = kms
            .list_resource_tags()
            .key_id(&arn)
            .send()
            .await
            .expect("tags");
        assert!(
            tags.tags()
                .iter()
                .any(|t| t.tag_key() == "gsign:organization"
                    && t.tag_value() == admin.org.to_string()),
            "{:?}",
            tags.tags()
        );
        let public = kms
            .get_public_key()
            .key_id(&arn)
            .send()
            .await
            .expect("public key");
        assert_eq!(
            BASE64.encode(public.public_key().expect("der").as_ref()),
            registered["public_key_der"].as_str().expect("der"),
        );
    }

    register_partner(&stack, &admin, &pki).await;

    // KMS signs (the digest: the signed bytes are far over KMS's 4096-byte message limit);
    // the script verifies PSS with a 32-byte salt and opens.
    let text = "Гэрээ ".repeat(2000);
    let (status, prompt) = stack
        .call(
            &admin,
            "POST",
            "/v1/prompts",
            Some(json!({"prompt_text": text})),
        )
        .await;
    assert_eq!(status, 201, "{prompt}");
    let prompt_id = prompt["id"].as_str().expect("id").to_owned();
    let (status, sealed) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/prompts/{prompt_id}/seal"),
            Some(json!({"receiver_key_id": "partner-receiver", "sender_key_id": "kms-sender-1"})),
        )
        .await;
    assert_eq!(status, 201, "{sealed}");
    assert_eq!(
        python_open(&pki, &sealed["sealed"], &sender),
        text.as_bytes()
    );

    // The script seals to the KMS receiver key; KMS unwraps (RSAES_OAEP_SHA_256).
    let receiver_pem = receiver["public_key_pem"].as_str().expect("pem").to_owned();
    let from_python = python_seal(
        &pki,
        "Сайн уу, KMS".as_bytes(),
        &receiver_pem,
        "kms-receiver-1",
        None,
    );
    let (status, opened) = import_and_open(&stack, &admin, &from_python).await;
    assert_eq!(
        (status, opened["plaintext"].as_str()),
        (200, Some("Сайн уу, KMS")),
        "{opened}"
    );
    let mut changed = python_seal(&pki, b"tamper", &receiver_pem, "kms-receiver-1", None);
    changed["encrypted_key"] = flip(&changed["encrypted_key"], 9);
    let (status, problem) = import_and_open(&stack, &admin, &changed).await;
    assert_eq!(
        (status, problem["reason"].as_str()),
        (422, Some("bad_signature")),
        "{problem}"
    );

    // Rotation makes the successor in KMS; what the old key sealed still opens.
    let before = python_seal(
        &pki,
        b"before rotation",
        &receiver_pem,
        "kms-receiver-1",
        None,
    );
    let (status, rotated) = stack
        .call(
            &admin,
            "POST",
            &format!(
                "/v1/crypto-keys/{}/rotate",
                receiver["id"].as_str().expect("id")
            ),
            Some(json!({"key_id": "kms-receiver-2"})),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    assert_ne!(kms_arn(&rotated), kms_arn(&receiver));
    let (status, opened) = import_and_open(&stack, &admin, &before).await;
    assert_eq!(
        (status, opened["plaintext"].as_str()),
        (200, Some("before rotation")),
        "{opened}"
    );
    let (status, to_self) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/prompts/{prompt_id}/seal"),
            Some(json!({"receiver_key_id": "kms-receiver-1"})),
        )
        .await;
    assert_eq!(status, 201, "{to_self}");
    assert_eq!(
        to_self["sealed"]["receiver_public_key_id"],
        "kms-receiver-2"
    );
    let (status, opened) = stack
        .call(
            &admin,
            "POST",
            &format!(
                "/v1/sealed-envelopes/{}/open",
                to_self["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, opened["plaintext"].as_str()),
        (200, Some(text.as_str())),
        "{opened}"
    );

    // Revoking the sender: the registry refuses it, and KMS itself no longer signs with it.
    let (status, revoked) = stack
        .call(
            &admin,
            "POST",
            &format!(
                "/v1/crypto-keys/{}/revoke",
                sender["id"].as_str().expect("id")
            ),
            Some(json!({"reason": "rotating providers"})),
        )
        .await;
    assert_eq!(
        (status, revoked["status"].as_str()),
        (200, Some("revoked")),
        "{revoked}"
    );
    let described = kms
        .describe_key()
        .key_id(kms_arn(&sender))
        .send()
        .await
        .expect("described");
    assert_eq!(
        described.key_metadata().map(|m| m.enabled()),
        Some(false),
        "a revoked key is disabled in KMS"
    );
    let (status, problem) = stack
        .call(
            &admin,
            "POST",
            &format!("/v1/prompts/{prompt_id}/seal"),
            Some(json!({"receiver_key_id": "partner-receiver", "sender_key_id": "kms-sender-1"})),
        )
        .await;
    assert_eq!((status, slug(&problem)), (409, "key-unusable"), "{problem}");

    // Another tenant's ids are not found, KMS-held or not.
    let other = Tenant::create(&db, "admin").await;
    let (status, _) = stack
        .call(
            &other,
            "POST",
            &format!(
                "/v1/crypto-keys/{}/revoke",
                receiver["id"].as_str().expect("id")
            ),
            Some(json!({"reason": "not mine"})),
        )
        .await;
    assert_eq!(status, 404);
    stack.stop().await;
}
