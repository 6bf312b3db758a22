//! AWS SDK clients built once per container from one shared `SdkConfig`.
//!
//! `AWS_ENDPOINT_URL` (read from the function's [`Env`]) points every client at another
//! endpoint: the local stack's `moto_server`. Region and credentials come from the standard
//! provider chain (in Lambda: the execution role).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use gsign_core::{Env, EnvReader};

/// Settings shared by every AWS client.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// `AWS_ENDPOINT_URL`: one endpoint for every service (the local stack); unset in AWS.
    pub endpoint_url: Option<String>,
    /// `AWS_REGION` (set by Lambda).
    pub region: Option<String>,
    /// `AWS_OPERATION_TIMEOUT_MS`: ceiling for one SDK call including retries (default 10000).
    pub operation_timeout: Duration,
}

impl AwsConfig {
    /// Reads the AWS settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let endpoint_url = r.optional::<url::Url>("AWS_ENDPOINT_URL");
        let region = r.optional::<String>("AWS_REGION");
        let operation_timeout = Duration::from_millis(r.or("AWS_OPERATION_TIMEOUT_MS", 10_000u64));
        Some(Self {
            endpoint_url: endpoint_url.map(|u| u.as_str().trim_end_matches('/').to_owned()),
            region,
            operation_timeout,
        })
    }
}

/// Loads the shared SDK configuration. Does no network I/O when the region and credentials
/// are in the environment (Lambda, the local stack).
pub async fn sdk_config(config: &AwsConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(config.operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(endpoint) = &config.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &config.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    loader.load().await
}

/// An S3 client; path-style addressing when an endpoint override is set (moto, like most S3
/// emulators, does not serve virtual-host buckets on 127.0.0.1).
pub fn s3(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = sdk.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build(),
    )
}

/// An SQS client.
pub fn sqs(sdk: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}

/// A KMS client.
pub fn kms(sdk: &SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(sdk)
}

/// A KMS client at `endpoint` when given (a second, KMS-only emulator locally), else as
/// [`kms`].
pub fn kms_at(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_kms::Client {
    match endpoint {
        Some(endpoint) => aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(sdk)
                .endpoint_url(endpoint)
                .build(),
        ),
        None => kms(sdk),
    }
}

/// A DynamoDB client.
pub fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

/// Reads the AWS settings from `env` alone (for tools and tests).
pub fn config_from(env: &Env) -> Result<AwsConfig, gsign_core::ConfigError> {
    let mut r = env.reader();
    let config = AwsConfig::read(&mut r);
    r.finish(|| config)
}

/// An SES v2 client.
pub fn sesv2(sdk: &SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(sdk)
}
