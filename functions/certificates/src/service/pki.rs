//! Where the organization CAs' CRLs are published: the public URL every certificate they
//! issue names as its distribution point, and the bucket behind it.

use anyhow::Context as _;
use aws_sdk_s3::primitives::ByteStream;
use gsign_core::EnvReader;
use uuid::Uuid;

/// Where CRLs are published: `PKI_URL` (the public base the distribution points name) and
/// `PKI_BUCKET` (where the objects behind it are written).
#[derive(Debug, Clone)]
pub struct PkiConfig {
    url: url::Url,
    bucket: String,
}

impl PkiConfig {
    /// Reads `PKI_URL` and `PKI_BUCKET`, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let url: Option<url::Url> = r.required("PKI_URL");
        let bucket: Option<String> = r.required("PKI_BUCKET");
        Some(Self {
            url: url?,
            bucket: bucket?,
        })
    }
}

/// The publication point of the organizations' CRLs.
#[derive(Clone)]
pub struct Pki {
    config: PkiConfig,
    s3: aws_sdk_s3::Client,
}

impl Pki {
    /// The publisher, with an S3 client of `sdk`.
    pub fn new(config: PkiConfig, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            config,
            s3: gsign_platform::aws::s3(sdk),
        }
    }

    /// The URL the certificates issued by the CA `ca` name as their CRL distribution point.
    pub fn crl_url(&self, ca: Uuid) -> String {
        format!(
            "{}/crls/{ca}.crl",
            self.config.url.as_str().trim_end_matches('/')
        )
    }

    /// Writes `der`, the current CRL of `ca`, where [`Pki::crl_url`] points.
    #[tracing::instrument(skip_all, fields(ca = %ca))]
    pub async fn publish(&self, ca: Uuid, der: &[u8]) -> anyhow::Result<()> {
        self.s3
            .put_object()
            .bucket(&self.config.bucket)
            .key(format!("pki/crls/{ca}.crl"))
            .content_type("application/pkix-crl")
            // Relying parties and CloudFront may keep it a few minutes: a revocation shows
            // within that.
            .cache_control("public, max-age=300")
            .body(ByteStream::from(der.to_vec()))
            .send()
            .await
            .map_err(aws_sdk_s3::Error::from)
            .with_context(|| format!("publishing the CRL of CA {ca}"))?;
        Ok(())
    }
}
