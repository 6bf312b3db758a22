//! AWS SDK clients built once per container from one shared `SdkConfig`.
//!
//! `AWS_ENDPOINT_URL` (read from the function's [`Env`]) points every client at another
//! endpoint: the local stack's `moto_server`. Region and credentials come from the function's
//! environment, where Lambda puts the execution role's (and the local stack its own); only
//! without them does the SDK's provider chain look further (profiles, web identity, IMDS).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::ConfigBag;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use gsign_core::{Env, EnvReader};
use secrecy::{ExposeSecret, SecretString};

/// Settings shared by every AWS client.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// `AWS_ENDPOINT_URL`: one endpoint for every service (the local stack); unset in AWS.
    pub endpoint_url: Option<String>,
    /// `AWS_REGION` (set by Lambda).
    pub region: Option<String>,
    /// `AWS_OPERATION_TIMEOUT_MS`: ceiling for one SDK call including retries (default 10000).
    pub operation_timeout: Duration,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (set by Lambda).
    pub credentials: Option<EnvCredentials>,
}

/// Credentials given in the environment.
#[derive(Clone)]
pub struct EnvCredentials {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
}

impl std::fmt::Debug for EnvCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AwsConfig {
    /// Reads the AWS settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let endpoint_url = r.optional::<url::Url>("AWS_ENDPOINT_URL");
        let region = r.optional::<String>("AWS_REGION");
        let operation_timeout = Duration::from_millis(r.or("AWS_OPERATION_TIMEOUT_MS", 10_000u64));
        let access_key_id = r.optional::<String>("AWS_ACCESS_KEY_ID");
        let secret_access_key = r.optional::<String>("AWS_SECRET_ACCESS_KEY");
        let session_token = r.optional::<String>("AWS_SESSION_TOKEN");
        let credentials = match (access_key_id, secret_access_key) {
            (Some(access_key_id), Some(secret)) => Some(EnvCredentials {
                access_key_id,
                secret_access_key: SecretString::from(secret),
                session_token: session_token.map(SecretString::from),
            }),
            _ => None,
        };
        Some(Self {
            endpoint_url: endpoint_url.map(|u| u.as_str().trim_end_matches('/').to_owned()),
            region,
            operation_timeout,
            credentials,
        })
    }
}

/// Loads the shared SDK configuration. Does no network I/O when the region and credentials
/// are in the environment (Lambda, the local stack).
///
/// Credentials from the environment are given to the loader directly (the SDK's default chain
/// would build a web-identity STS client nobody uses), and the HTTPS client is built on first
/// use ([`LazyHttpsClient`]).
pub async fn sdk_config(config: &AwsConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(LazyHttpsClient::default())
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
    if let Some(credentials) = &config.credentials {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.expose_secret().to_owned(),
            credentials
                .session_token
                .as_ref()
                .map(|token| token.expose_secret().to_owned()),
            None,
            "environment",
        ));
    }
    loader.load().await
}

/// The SDK's default HTTPS client (hyper, rustls with aws-lc), built when a client first
/// sends a request rather than when it is constructed. Constructing an SDK client validates its
/// HTTP client by building the TLS connector, which reads every system root certificate: on
/// this project's machines about 5 ms of each cold start, paid by functions whose request may
/// never call AWS. The first request that does pays it instead, once per container.
#[derive(Debug, Default)]
struct LazyHttpsClient {
    inner: std::sync::OnceLock<SharedHttpClient>,
}

impl LazyHttpsClient {
    fn inner(&self) -> &SharedHttpClient {
        self.inner.get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        })
    }
}

impl HttpClient for LazyHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner().http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner().validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner().connector_metadata()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> AwsConfig {
        let env = Env::from_pairs(pairs.iter().copied());
        config_from(&env).expect("valid")
    }

    #[test]
    fn credentials_come_from_the_environment_when_both_halves_are_there_and_stay_secret() {
        let config = read(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
            ("AWS_SESSION_TOKEN", "session-secret"),
        ]);
        let credentials = config.credentials.as_ref().expect("given");
        assert_eq!(credentials.access_key_id, "AKIAEXAMPLE");
        let shown = format!("{config:?}");
        assert!(shown.contains("AKIAEXAMPLE"), "{shown}");
        assert!(!shown.contains("very-secret") && !shown.contains("session-secret"));
        // Half a pair is no credentials: the SDK's chain looks further.
        assert!(read(&[("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")])
            .credentials
            .is_none());
    }

    #[tokio::test]
    async fn the_sdk_configuration_uses_those_credentials_and_defers_the_https_client() {
        use aws_sdk_s3::config::ProvideCredentials as _;
        let config = read(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
            ("AWS_REGION", "eu-central-1"),
        ]);
        let sdk = sdk_config(&config).await;
        let provider = sdk.credentials_provider().expect("a provider");
        let credentials = provider.provide_credentials().await.expect("credentials");
        assert_eq!(credentials.access_key_id(), "AKIAEXAMPLE");
        // Building a client does not build the HTTPS connector (that reads the system roots).
        let _sqs = sqs(&sdk);
        let lazy = format!("{:?}", sdk.http_client().expect("an HTTP client"));
        assert!(lazy.contains("LazyHttpsClient"), "{lazy}");
        assert!(lazy.contains("uninit"), "{lazy}");
    }
}
