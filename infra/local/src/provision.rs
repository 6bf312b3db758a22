//! Creates in the local AWS stand-in (`moto_server`) every bucket, queue (with its redrive
//! policy), bucket notification, table and KMS key that `template.yaml` declares, and computes
//! the physical values (`!Ref` / `!GetAtt`) of every resource, so functions get locally exactly
//! the environment the template gives them in AWS. Idempotent: running it twice changes
//! nothing; names derive from the stack name, so two stacks never collide.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use aws_sdk_dynamodb::types as ddb;
use aws_sdk_s3::types as s3t;
use serde_json::Value;

use crate::template::{PhysicalResource, Resolver, Template, LOCAL_ACCOUNT};

/// The AWS clients pointed at the local stand-in.
#[derive(Clone)]
pub struct LocalAws {
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// KMS.
    pub kms: aws_sdk_kms::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SES v2.
    pub sesv2: aws_sdk_sesv2::Client,
}

impl LocalAws {
    /// Clients from a shared SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            s3: gsign_platform::aws::s3(sdk),
            sqs: gsign_platform::aws::sqs(sdk),
            kms: gsign_platform::aws::kms(sdk),
            dynamodb: gsign_platform::aws::dynamodb(sdk),
            sesv2: gsign_platform::aws::sesv2(sdk),
        }
    }
}

/// One provisioned resource, for the summary.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// CloudFormation type.
    pub resource_type: String,
    /// Logical id.
    pub logical_id: String,
    /// Physical name or id (a queue's URL, a key's id).
    pub physical: String,
    /// The key's alias, for KMS keys.
    pub alias: Option<String>,
}

fn physical_name(
    r: &Resolver,
    stack: &str,
    logical_id: &str,
    name: &Value,
) -> anyhow::Result<String> {
    if name.is_null() {
        Ok(format!("{stack}-{logical_id}"))
    } else {
        Ok(r.eval_string(name)?)
    }
}

/// Fills `resolver.physical` for every resource, creating the ones moto emulates.
pub async fn provision(
    template: &Template,
    resolver: &mut Resolver,
    aws: &LocalAws,
) -> anyhow::Result<Vec<Provisioned>> {
    let stack = resolver.stack_name.clone();
    let region = resolver.region.clone();
    let mut done = Vec::new();

    // Names and ARNs that do not depend on the server.
    for (id, resource) in template.resources() {
        let props = &resource["Properties"];
        let ty = resource["Type"].as_str().unwrap_or_default();
        let physical = match ty {
            "AWS::SQS::Queue" => {
                let name = physical_name(resolver, &stack, id, &props["QueueName"])?;
                PhysicalResource {
                    reference: String::new(),
                    attributes: BTreeMap::from([
                        (
                            "Arn".to_owned(),
                            format!("arn:aws:sqs:{region}:{LOCAL_ACCOUNT}:{name}"),
                        ),
                        ("QueueName".to_owned(), name),
                    ]),
                }
            }
            "AWS::S3::Bucket" => {
                let name =
                    physical_name(resolver, &stack, id, &props["BucketName"])?.to_ascii_lowercase();
                PhysicalResource {
                    attributes: BTreeMap::from([
                        ("Arn".to_owned(), format!("arn:aws:s3:::{name}")),
                        ("DomainName".to_owned(), format!("{name}.s3.amazonaws.com")),
                    ]),
                    reference: name,
                }
            }
            "AWS::DynamoDB::Table" => {
                let name = physical_name(resolver, &stack, id, &props["TableName"])?;
                PhysicalResource {
                    attributes: BTreeMap::from([(
                        "Arn".to_owned(),
                        format!("arn:aws:dynamodb:{region}:{LOCAL_ACCOUNT}:table/{name}"),
                    )]),
                    reference: name,
                }
            }
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => {
                let name = physical_name(resolver, &stack, id, &props["FunctionName"])?;
                PhysicalResource {
                    attributes: BTreeMap::from([(
                        "Arn".to_owned(),
                        format!("arn:aws:lambda:{region}:{LOCAL_ACCOUNT}:function:{name}"),
                    )]),
                    reference: name,
                }
            }
            "AWS::SNS::Topic" => {
                let name = format!("{stack}-{id}");
                let arn = format!("arn:aws:sns:{region}:{LOCAL_ACCOUNT}:{name}");
                PhysicalResource {
                    attributes: BTreeMap::from([("TopicName".to_owned(), name)]),
                    reference: arn,
                }
            }
            "AWS::KMS::Alias" => PhysicalResource {
                reference: physical_name(resolver, &stack, id, &props["AliasName"])?,
                attributes: BTreeMap::new(),
            },
            "AWS::SES::EmailIdentity" => PhysicalResource {
                reference: physical_name(resolver, &stack, id, &props["EmailIdentity"])?,
                attributes: BTreeMap::new(),
            },
            "AWS::SES::ConfigurationSet" => PhysicalResource {
                reference: physical_name(resolver, &stack, id, &props["Name"])?,
                attributes: BTreeMap::new(),
            },
            "AWS::Serverless::HttpApi" | "AWS::ApiGatewayV2::Api" => PhysicalResource {
                reference: "local".to_owned(),
                attributes: BTreeMap::new(),
            },
            // Policies, alarms, subscriptions: nothing to emulate, nothing references them.
            _ => PhysicalResource {
                reference: id.to_owned(),
                attributes: BTreeMap::new(),
            },
        };
        resolver.physical.insert(id.to_owned(), physical);
    }

    for (id, resource) in template.resources_of_type("AWS::KMS::Key") {
        let key = provision_key(template, resolver, aws, id, resource).await?;
        done.push(Provisioned {
            resource_type: "AWS::KMS::Key".to_owned(),
            logical_id: id.to_owned(),
            physical: key.reference.clone(),
            alias: key.attributes.get("Alias").cloned(),
        });
        resolver.physical.insert(id.to_owned(), key);
    }

    // Dead-letter queues first: a redrive policy names an existing queue.
    let mut queues: Vec<(&str, &Value)> = template.resources_of_type("AWS::SQS::Queue").collect();
    queues.sort_by_key(|(_, q)| !q["Properties"]["RedrivePolicy"].is_null());
    for (id, resource) in queues {
        let url = provision_queue(resolver, aws, id, resource).await?;
        if let Some(queue) = resolver.physical.get_mut(id) {
            queue.reference = url.clone();
        }
        done.push(Provisioned {
            resource_type: "AWS::SQS::Queue".to_owned(),
            logical_id: id.to_owned(),
            physical: url,
            alias: None,
        });
    }

    for (id, resource) in template.resources_of_type("AWS::S3::Bucket") {
        let name = provision_bucket(resolver, aws, id, resource).await?;
        done.push(Provisioned {
            resource_type: "AWS::S3::Bucket".to_owned(),
            logical_id: id.to_owned(),
            physical: name,
            alias: None,
        });
    }

    // Identities (a domain) may be shared by several local stacks: created once, never torn
    // down.
    for (id, _) in template.resources_of_type("AWS::SES::EmailIdentity") {
        let identity = resolver.physical[id].reference.clone();
        let exists = aws
            .sesv2
            .get_email_identity()
            .email_identity(&identity)
            .send()
            .await
            .is_ok();
        if !exists {
            aws.sesv2
                .create_email_identity()
                .email_identity(&identity)
                .send()
                .await
                .with_context(|| format!("SES CreateEmailIdentity {identity}"))?;
        }
    }

    // Configuration sets, so sending through one is what it is in AWS (the local SES
    // publishes no events: tests put SES's event documents on the feedback queue).
    for (id, _) in template.resources_of_type("AWS::SES::ConfigurationSet") {
        let name = resolver.physical[id].reference.clone();
        let created = aws
            .sesv2
            .create_configuration_set()
            .configuration_set_name(&name)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // AWS says AlreadyExistsException, moto ConfigurationSetAlreadyExistsException.
            Err(err)
                if aws_sdk_sesv2::error::ProvideErrorMetadata::code(&err)
                    .is_some_and(|code| code.ends_with("AlreadyExistsException")) => {}
            Err(err) => {
                return Err(
                    anyhow::Error::new(err).context(format!("SES CreateConfigurationSet {name}"))
                )
            }
        }
    }

    for (id, resource) in template.resources_of_type("AWS::DynamoDB::Table") {
        let name = provision_table(resolver, aws, id, resource).await?;
        done.push(Provisioned {
            resource_type: "AWS::DynamoDB::Table".to_owned(),
            logical_id: id.to_owned(),
            physical: name,
            alias: None,
        });
    }
    Ok(done)
}

async fn provision_key(
    template: &Template,
    resolver: &Resolver,
    aws: &LocalAws,
    id: &str,
    resource: &Value,
) -> anyhow::Result<PhysicalResource> {
    // KMS keys have no name: the local stack finds a key again through its alias.
    let alias = template
        .resources_of_type("AWS::KMS::Alias")
        .find(|(_, a)| a["Properties"]["TargetKeyId"] == serde_json::json!({"Ref": id}))
        .map(|(_, a)| resolver.eval_string(&a["Properties"]["AliasName"]))
        .transpose()?
        .ok_or_else(|| {
            anyhow!("KMS key {id} needs an AWS::KMS::Alias with TargetKeyId: !Ref {id}")
        })?;
    let aliases = aws
        .kms
        .list_aliases()
        .send()
        .await
        .context("KMS ListAliases")?;
    let existing = aliases
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(alias.as_str()))
        .and_then(|a| a.target_key_id().map(str::to_owned));
    let key_id = match existing {
        Some(key_id) => key_id,
        None => {
            let props = &resource["Properties"];
            let spec = props["KeySpec"].as_str().unwrap_or("SYMMETRIC_DEFAULT");
            let usage = props["KeyUsage"].as_str().unwrap_or("ENCRYPT_DECRYPT");
            let created = aws
                .kms
                .create_key()
                .description(props["Description"].as_str().unwrap_or(id))
                .key_spec(spec.into())
                .key_usage(usage.into())
                .send()
                .await
                .with_context(|| format!("KMS CreateKey {id}"))?;
            let key_id = created
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .ok_or_else(|| anyhow!("KMS CreateKey {id}: no key id"))?;
            aws.kms
                .create_alias()
                .alias_name(&alias)
                .target_key_id(&key_id)
                .send()
                .await
                .with_context(|| format!("KMS CreateAlias {alias}"))?;
            if props["EnableKeyRotation"].as_bool() == Some(true) && spec == "SYMMETRIC_DEFAULT" {
                aws.kms
                    .enable_key_rotation()
                    .key_id(&key_id)
                    .send()
                    .await
                    .with_context(|| format!("KMS EnableKeyRotation {id}"))?;
            }
            key_id
        }
    };
    let arn = format!(
        "arn:aws:kms:{}:{LOCAL_ACCOUNT}:key/{key_id}",
        resolver.region
    );
    Ok(PhysicalResource {
        reference: key_id.clone(),
        attributes: BTreeMap::from([
            ("Arn".to_owned(), arn),
            ("KeyId".to_owned(), key_id),
            ("Alias".to_owned(), alias),
        ]),
    })
}

async fn provision_queue(
    resolver: &Resolver,
    aws: &LocalAws,
    id: &str,
    resource: &Value,
) -> anyhow::Result<String> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let props = resolver.eval(&resource["Properties"])?;
    let name = resolver.physical[id].attributes["QueueName"].clone();
    let mut attributes = std::collections::HashMap::new();
    for (key, attribute) in [
        ("VisibilityTimeout", A::VisibilityTimeout),
        ("MessageRetentionPeriod", A::MessageRetentionPeriod),
        ("DelaySeconds", A::DelaySeconds),
        (
            "ReceiveMessageWaitTimeSeconds",
            A::ReceiveMessageWaitTimeSeconds,
        ),
        ("MaximumMessageSize", A::MaximumMessageSize),
        ("FifoQueue", A::FifoQueue),
        ("ContentBasedDeduplication", A::ContentBasedDeduplication),
    ] {
        match &props[key] {
            Value::Null => {}
            Value::String(s) => {
                attributes.insert(attribute, s.clone());
            }
            other => {
                attributes.insert(attribute, other.to_string());
            }
        }
    }
    if let Some(redrive) = props.get("RedrivePolicy").filter(|v| v.is_object()) {
        attributes.insert(A::RedrivePolicy, redrive.to_string());
    }
    let existing = aws.sqs.get_queue_url().queue_name(&name).send().await;
    let url = match existing {
        Ok(found) => {
            let url = found
                .queue_url()
                .ok_or_else(|| anyhow!("SQS GetQueueUrl {name}: no URL"))?
                .to_owned();
            if !attributes.is_empty() {
                aws.sqs
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attributes))
                    .send()
                    .await
                    .with_context(|| format!("SQS SetQueueAttributes {name}"))?;
            }
            url
        }
        Err(_) => aws
            .sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attributes))
            .send()
            .await
            .with_context(|| format!("SQS CreateQueue {name}"))?
            .queue_url()
            .ok_or_else(|| anyhow!("SQS CreateQueue {name}: no URL"))?
            .to_owned(),
    };
    Ok(url)
}

async fn provision_bucket(
    resolver: &Resolver,
    aws: &LocalAws,
    id: &str,
    resource: &Value,
) -> anyhow::Result<String> {
    let name = resolver.physical[id].reference.clone();
    let props = resolver.eval(&resource["Properties"])?;
    if aws.s3.head_bucket().bucket(&name).send().await.is_err() {
        let mut create = aws
            .s3
            .create_bucket()
            .bucket(&name)
            .object_lock_enabled_for_bucket(props["ObjectLockEnabled"].as_bool() == Some(true));
        if resolver.region != "us-east-1" {
            create = create.create_bucket_configuration(
                s3t::CreateBucketConfiguration::builder()
                    .location_constraint(resolver.region.as_str().into())
                    .build(),
            );
        }
        create
            .send()
            .await
            .with_context(|| format!("S3 CreateBucket {name}"))?;
    }
    if props["VersioningConfiguration"]["Status"] == "Enabled" {
        aws.s3
            .put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(
                s3t::VersioningConfiguration::builder()
                    .status(s3t::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("S3 PutBucketVersioning {name}"))?;
    }
    if let Some(rules) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"].as_array() {
        let mut config = s3t::ServerSideEncryptionConfiguration::builder();
        for rule in rules {
            let default = &rule["ServerSideEncryptionByDefault"];
            let mut by_default = s3t::ServerSideEncryptionByDefault::builder()
                .sse_algorithm(default["SSEAlgorithm"].as_str().unwrap_or("AES256").into());
            if let Some(key) = default["KMSMasterKeyID"].as_str() {
                by_default = by_default.kms_master_key_id(key);
            }
            config = config.rules(
                s3t::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default.build()?)
                    .bucket_key_enabled(rule["BucketKeyEnabled"].as_bool() == Some(true))
                    .build(),
            );
        }
        aws.s3
            .put_bucket_encryption()
            .bucket(&name)
            .server_side_encryption_configuration(config.build()?)
            .send()
            .await
            .with_context(|| format!("S3 PutBucketEncryption {name}"))?;
    }
    if let Some(rules) = props["CorsConfiguration"]["CorsRules"].as_array() {
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut config = s3t::CorsConfiguration::builder();
        for rule in rules {
            config = config.cors_rules(
                s3t::CorsRule::builder()
                    .set_allowed_origins(Some(strings(&rule["AllowedOrigins"])))
                    .set_allowed_methods(Some(strings(&rule["AllowedMethods"])))
                    .set_allowed_headers(Some(strings(&rule["AllowedHeaders"])))
                    .set_expose_headers(Some(strings(&rule["ExposedHeaders"])))
                    .set_max_age_seconds(
                        rule["MaxAge"].as_i64().and_then(|m| i32::try_from(m).ok()),
                    )
                    .build()?,
            );
        }
        aws.s3
            .put_bucket_cors()
            .bucket(&name)
            .cors_configuration(config.build()?)
            .send()
            .await
            .with_context(|| format!("S3 PutBucketCors {name}"))?;
    }
    let block = &props["PublicAccessBlockConfiguration"];
    if block.is_object() {
        aws.s3
            .put_public_access_block()
            .bucket(&name)
            .public_access_block_configuration(
                s3t::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(block["BlockPublicAcls"].as_bool() == Some(true))
                    .block_public_policy(block["BlockPublicPolicy"].as_bool() == Some(true))
                    .ignore_public_acls(block["IgnorePublicAcls"].as_bool() == Some(true))
                    .restrict_public_buckets(block["RestrictPublicBuckets"].as_bool() == Some(true))
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("S3 PutPublicAccessBlock {name}"))?;
    }
    if let Some(queues) = props["NotificationConfiguration"]["QueueConfigurations"].as_array() {
        let mut notification = s3t::NotificationConfiguration::builder();
        for q in queues {
            let arn = q["Queue"]
                .as_str()
                .ok_or_else(|| anyhow!("{id}: a QueueConfiguration needs Queue"))?;
            let mut config = s3t::QueueConfiguration::builder()
                .queue_arn(arn)
                .events(q["Event"].as_str().unwrap_or("s3:ObjectCreated:*").into());
            if let Some(rules) = q["Filter"]["S3Key"]["Rules"].as_array() {
                let mut key_filter = s3t::S3KeyFilter::builder();
                for rule in rules {
                    key_filter = key_filter.filter_rules(
                        s3t::FilterRule::builder()
                            .name(rule["Name"].as_str().unwrap_or("prefix").into())
                            .value(rule["Value"].as_str().unwrap_or_default())
                            .build(),
                    );
                }
                config = config.filter(
                    s3t::NotificationConfigurationFilter::builder()
                        .key(key_filter.build())
                        .build(),
                );
            }
            notification = notification.queue_configurations(config.build()?);
        }
        aws.s3
            .put_bucket_notification_configuration()
            .bucket(&name)
            .notification_configuration(notification.build())
            .send()
            .await
            .with_context(|| format!("S3 PutBucketNotificationConfiguration {name}"))?;
    }
    Ok(name)
}

fn key_schema(items: &Value) -> anyhow::Result<Vec<ddb::KeySchemaElement>> {
    items
        .as_array()
        .ok_or_else(|| anyhow!("KeySchema must be a list"))?
        .iter()
        .map(|k| {
            Ok(ddb::KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().unwrap_or_default())
                .key_type(k["KeyType"].as_str().unwrap_or("HASH").into())
                .build()?)
        })
        .collect()
}

async fn provision_table(
    resolver: &Resolver,
    aws: &LocalAws,
    id: &str,
    resource: &Value,
) -> anyhow::Result<String> {
    let name = resolver.physical[id].reference.clone();
    if aws
        .dynamodb
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .is_ok()
    {
        return Ok(name);
    }
    let props = resolver.eval(&resource["Properties"])?;
    if props["BillingMode"].as_str() != Some("PAY_PER_REQUEST") {
        bail!("{id}: the local stack provisions PAY_PER_REQUEST tables only");
    }
    let mut create = aws
        .dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(ddb::BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&props["KeySchema"])?));
    for attribute in props["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        create = create.attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name(attribute["AttributeName"].as_str().unwrap_or_default())
                .attribute_type(attribute["AttributeType"].as_str().unwrap_or("S").into())
                .build()?,
        );
    }
    for index in props["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let projection = ddb::Projection::builder()
            .projection_type(
                index["Projection"]["ProjectionType"]
                    .as_str()
                    .unwrap_or("ALL")
                    .into(),
            )
            .build();
        create = create.global_secondary_indexes(
            ddb::GlobalSecondaryIndex::builder()
                .index_name(index["IndexName"].as_str().unwrap_or_default())
                .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                .projection(projection)
                .build()?,
        );
    }
    create
        .send()
        .await
        .with_context(|| format!("DynamoDB CreateTable {name}"))?;
    let ttl = &props["TimeToLiveSpecification"];
    if ttl["Enabled"].as_bool() == Some(true) {
        aws.dynamodb
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                ddb::TimeToLiveSpecification::builder()
                    .attribute_name(ttl["AttributeName"].as_str().unwrap_or("ttl"))
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("DynamoDB UpdateTimeToLive {name}"))?;
    }
    Ok(name)
}

/// Deletes what [`provision`] created: queues, buckets (with every object version), tables, and
/// key aliases (the keys are scheduled for deletion, as KMS allows no immediate delete).
pub async fn teardown(provisioned: &[Provisioned], aws: &LocalAws) -> anyhow::Result<()> {
    for p in provisioned {
        match p.resource_type.as_str() {
            "AWS::SQS::Queue" => {
                aws.sqs.delete_queue().queue_url(&p.physical).send().await?;
            }
            "AWS::S3::Bucket" => empty_and_delete_bucket(&p.physical, aws).await?,
            "AWS::DynamoDB::Table" => {
                aws.dynamodb
                    .delete_table()
                    .table_name(&p.physical)
                    .send()
                    .await?;
            }
            "AWS::KMS::Key" => {
                if let Some(alias) = &p.alias {
                    aws.kms.delete_alias().alias_name(alias).send().await?;
                }
                aws.kms
                    .schedule_key_deletion()
                    .key_id(&p.physical)
                    .pending_window_in_days(7)
                    .send()
                    .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Deletes every object version and delete marker in `bucket` (past governance-mode retention,
/// as the tests' Object Lock buckets hold), then the bucket.
async fn empty_and_delete_bucket(bucket: &str, aws: &LocalAws) -> anyhow::Result<()> {
    // ListObjectVersions has no paginator in the SDK: follow its markers.
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = aws
            .s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .with_context(|| format!("S3 ListObjectVersions {bucket}"))?;
        let versions = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            );
        for (key, version_id) in versions {
            aws.s3
                .delete_object()
                .bucket(bucket)
                .key(key.unwrap_or_default())
                .set_version_id(version_id.map(str::to_owned))
                .bypass_governance_retention(true)
                .send()
                .await
                .with_context(|| format!("S3 DeleteObject {bucket}"))?;
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    aws.s3
        .delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .with_context(|| format!("S3 DeleteBucket {bucket}"))?;
    Ok(())
}
