//! The documents bucket: presigned uploads and downloads, streamed reads that hash as they go,
//! and the Object Lock operations (7-year retention, legal hold) of seed 003.
//!
//! Every object is addressed by key *and version*: the bucket is versioned, so a second PUT to
//! an upload URL makes a new version and never changes what was hashed and recorded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockRetention, ObjectLockRetentionMode,
    ServerSideEncryption,
};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// A private scratch directory under `parent`, removed (with everything in it) when dropped,
/// whatever happened: where functions put the files they fetch and make.
#[derive(Debug)]
pub struct WorkDir(PathBuf);

impl WorkDir {
    /// A new directory `{parent}/gsign-{purpose}-{random}`.
    pub fn new(parent: &Path, purpose: &str) -> std::io::Result<Self> {
        let dir = parent.join(format!("gsign-{purpose}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    /// The path of `name` inside it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One stored object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Key.
    pub key: String,
    /// Version id (`None` only in an unversioned bucket).
    pub version_id: Option<String>,
}

/// A presigned request the client performs itself.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Presigned {
    /// HTTP method.
    pub method: String,
    /// The URL, signature included.
    pub url: String,
    /// Headers the client must send exactly (they are signed).
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// What `HeadObject` says about a version.
#[derive(Debug, Clone)]
pub struct ObjectHead {
    /// Size in bytes.
    pub size: u64,
    /// Whether S3 encrypted it with KMS.
    pub kms_encrypted: bool,
    /// The version.
    pub version_id: Option<String>,
}

/// A streamed copy of an object in a local file, with its SHA-256.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Bytes written.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// How retention is enforced: `COMPLIANCE` in production (nobody, root included, can shorten
/// it), `GOVERNANCE` where tests must clean up after themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionMode {
    /// Cannot be removed before it ends.
    Compliance,
    /// Removable with `s3:BypassGovernanceRetention`.
    Governance,
}

impl std::str::FromStr for RetentionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "COMPLIANCE" => Ok(Self::Compliance),
            "GOVERNANCE" => Ok(Self::Governance),
            other => Err(format!("{other:?} is not COMPLIANCE or GOVERNANCE")),
        }
    }
}

/// The documents bucket.
#[derive(Clone)]
pub struct DocumentStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
    kms_key_id: String,
}

fn sdk_error<E>(err: aws_sdk_s3::error::SdkError<E>) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    // The SDK error's own chain (service code and message), and where it was raised.
    crate::telemetry::located(anyhow::anyhow!(
        "{}",
        aws_sdk_s3::error::DisplayErrorContext(err)
    ))
}

impl DocumentStore {
    /// The store for `bucket`; new objects are encrypted with KMS key `kms_key_id`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: String, kms_key_id: String) -> Self {
        Self {
            s3,
            bucket,
            kms_key_id,
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A PUT URL bound to `content_type` and exactly `size` bytes (both are signed headers, so
    /// S3 refuses any other type or length), valid for `ttl`. Encryption comes from the
    /// bucket's default (SSE-KMS with the documents key), so the client sends no SSE headers.
    #[tracing::instrument(skip_all)]
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let length = i64::try_from(size).context("size fits S3's length")?;
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await
            .map_err(sdk_error)?;
        Ok(presigned(&request, ttl))
    }

    /// A GET URL of one version that makes the browser save it as `content_disposition`.
    #[tracing::instrument(skip_all)]
    pub async fn presign_get(
        &self,
        object: &ObjectRef,
        content_type: &str,
        content_disposition: &str,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .response_content_type(content_type)
            .response_content_disposition(content_disposition)
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await
            .map_err(sdk_error)?;
        Ok(presigned(&request, ttl))
    }

    /// `HeadObject` of the newest version of `key` (or of `version_id`); `None` if absent.
    #[tracing::instrument(skip_all)]
    pub async fn head(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> anyhow::Result<Option<ObjectHead>> {
        let result = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(ObjectHead {
                size: out
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                kms_encrypted: out.server_side_encryption() == Some(&ServerSideEncryption::AwsKms),
                version_id: out.version_id().map(str::to_owned),
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(sdk_error(err)),
        }
    }

    /// Streams one version into `file`, hashing as it goes: memory stays at one chunk,
    /// whatever the size. Stops with an error past `max_bytes`.
    #[tracing::instrument(skip_all)]
    pub async fn fetch_to_file(
        &self,
        object: &ObjectRef,
        file: &Path,
        max_bytes: u64,
    ) -> anyhow::Result<Fetched> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
            .map_err(sdk_error)?;
        let mut body = out.body;
        let mut sink = tokio::io::BufWriter::with_capacity(
            1 << 20,
            tokio::fs::File::create(file)
                .await
                .with_context(|| format!("create {}", file.display()))?,
        );
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.try_next().await.context("read the object")? {
            size += chunk.len() as u64;
            anyhow::ensure!(size <= max_bytes, "object exceeds {max_bytes} bytes");
            hasher.update(&chunk);
            sink.write_all(&chunk).await?;
        }
        sink.flush().await?;
        Ok(Fetched {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Uploads `bytes` (SSE-KMS with the documents key) and returns its version.
    #[tracing::instrument(skip_all)]
    pub async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> anyhow::Result<ObjectRef> {
        let out = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_id)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(ObjectRef {
            key: key.to_owned(),
            version_id: out.version_id().map(str::to_owned),
        })
    }

    /// Uploads a local file (SSE-KMS with the documents key) and returns its version.
    #[tracing::instrument(skip_all)]
    pub async fn put_file(
        &self,
        key: &str,
        file: &Path,
        content_type: &str,
    ) -> anyhow::Result<ObjectRef> {
        let body = ByteStream::from_path(file)
            .await
            .with_context(|| format!("read {}", file.display()))?;
        let out = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_id)
            .body(body)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(ObjectRef {
            key: key.to_owned(),
            version_id: out.version_id().map(str::to_owned),
        })
    }

    /// Places or releases an Object Lock legal hold on one version. While it is on, S3 refuses
    /// to delete that version, whoever asks.
    #[tracing::instrument(skip_all)]
    pub async fn set_legal_hold(&self, object: &ObjectRef, on: bool) -> anyhow::Result<()> {
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        self.s3
            .put_object_legal_hold()
            .bucket(&self.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Object Lock retention on one version until `until`: S3 refuses to delete the version
    /// before then (and, in compliance mode, to shorten the date).
    #[tracing::instrument(skip_all)]
    pub async fn retain_until(
        &self,
        object: &ObjectRef,
        until: DateTime<Utc>,
        mode: RetentionMode,
    ) -> anyhow::Result<()> {
        let mode = match mode {
            RetentionMode::Compliance => ObjectLockRetentionMode::Compliance,
            RetentionMode::Governance => ObjectLockRetentionMode::Governance,
        };
        self.s3
            .put_object_retention()
            .bucket(&self.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .retention(
                ObjectLockRetention::builder()
                    .mode(mode)
                    .retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(
                        until.timestamp(),
                    ))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Erases every version of `key` (and its delete markers): what deleting a document under
    /// no retention and no hold does to its bytes. A version S3 refuses to delete (a lock) is
    /// an error, after the others are gone.
    #[tracing::instrument(skip_all)]
    pub async fn erase(&self, key: &str) -> anyhow::Result<usize> {
        let mut erased = 0;
        let mut refused = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(sdk_error)?;
            let versions = page
                .versions()
                .iter()
                .filter(|v| v.key() == Some(key))
                .filter_map(|v| v.version_id().map(str::to_owned));
            let markers = page
                .delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key))
                .filter_map(|m| m.version_id().map(str::to_owned));
            for version in versions.chain(markers).collect::<Vec<_>>() {
                match self
                    .s3
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .version_id(&version)
                    .send()
                    .await
                {
                    Ok(_) => erased += 1,
                    Err(err) => refused.push(format!("{version}: {}", sdk_error(err))),
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        if !refused.is_empty() {
            anyhow::bail!("versions of {key} not erased: {}", refused.join("; "));
        }
        Ok(erased)
    }

    /// Hides a key behind a delete marker (versions stay, subject to their locks).
    #[tracing::instrument(skip_all)]
    pub async fn hide(&self, key: &str) -> anyhow::Result<()> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

/// SHA-256 of a local file (lowercase hex), read in 1 MiB blocks on a blocking thread so the
/// async runtime keeps serving.
#[tracing::instrument(skip_all)]
pub async fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        let mut block = vec![0u8; 1 << 20];
        loop {
            let read = file.read(&mut block)?;
            if read == 0 {
                break;
            }
            hasher.update(&block[..read]);
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await?
}

fn presigned(request: &aws_sdk_s3::presigning::PresignedRequest, ttl: Duration) -> Presigned {
    Presigned {
        method: request.method().to_owned(),
        url: request.uri().to_owned(),
        headers: request
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        expires_at: Utc::now() + chrono::Duration::seconds(ttl.as_secs() as i64),
    }
}

/// Reads a whole work file into memory with one positional reader per core (at most
/// `parts`): on a large file the cost is mostly the kernel mapping fresh pages, which two
/// cores do in half the time (the signing worker reads the downloaded document this way).
pub fn read_file_parallel(path: &Path, parts: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len())
        .map_err(|_| std::io::Error::other("the file does not fit in memory"))?;
    // Zeroed by the allocator (untouched pages), filled by the readers.
    let mut buffer = vec![0u8; len];
    let parts = parts.clamp(1, 16);
    let chunk = len.div_ceil(parts).max(1 << 20);
    std::thread::scope(|scope| {
        let readers: Vec<_> = buffer
            .chunks_mut(chunk)
            .enumerate()
            .map(|(index, part)| {
                let file = &file;
                scope.spawn(move || file.read_exact_at(part, (index * chunk) as u64))
            })
            .collect();
        readers.into_iter().try_for_each(|reader| {
            reader
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("a reader panicked")))
        })
    })?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_file_read_in_parallel_parts_is_the_file() {
        let path = std::env::temp_dir().join(format!("gsign-read-{}", uuid::Uuid::new_v4()));
        let bytes: Vec<u8> = (0..3_000_001u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        for parts in [1, 2, 3, 7] {
            assert_eq!(
                super::read_file_parallel(&path, parts).expect("read"),
                bytes
            );
        }
        std::fs::write(&path, b"").expect("empty");
        assert!(super::read_file_parallel(&path, 2)
            .expect("read")
            .is_empty());
        let _ = std::fs::remove_file(&path);
    }
    use super::*;

    fn store() -> DocumentStore {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .endpoint_url("https://s3.us-east-1.amazonaws.com")
            .force_path_style(true)
            .build();
        DocumentStore::new(
            aws_sdk_s3::Client::from_conf(config),
            "docs".to_owned(),
            "alias/docs".to_owned(),
        )
    }

    fn query(url: &str) -> std::collections::BTreeMap<String, String> {
        url::Url::parse(url)
            .expect("url")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[tokio::test]
    async fn upload_urls_sign_the_type_and_exact_length_and_expire_in_15_minutes() {
        let put = store()
            .presign_put(
                "uploads/o/d/original.pdf",
                "application/pdf",
                48213,
                Duration::from_secs(900),
            )
            .await
            .expect("presigned");
        assert_eq!(put.method, "PUT");
        let q = query(&put.url);
        assert_eq!(q["X-Amz-SignedHeaders"], "content-length;content-type;host");
        assert_eq!(q["X-Amz-Expires"], "900");
        assert_eq!(put.headers["content-length"], "48213");
        assert_eq!(put.headers["content-type"], "application/pdf");
        let left = put.expires_at - Utc::now();
        assert!(left <= chrono::Duration::seconds(900) && left > chrono::Duration::seconds(890));
    }

    #[tokio::test]
    async fn download_urls_name_the_version_and_the_safe_file_name() {
        let get = store()
            .presign_get(
                &ObjectRef {
                    key: "uploads/o/d/original.pdf".to_owned(),
                    version_id: Some("v1".to_owned()),
                },
                "application/pdf",
                "attachment; filename=\"a.pdf\"",
                Duration::from_secs(300),
            )
            .await
            .expect("presigned");
        let q = query(&get.url);
        assert_eq!(q["versionId"], "v1");
        assert_eq!(
            q["response-content-disposition"],
            "attachment; filename=\"a.pdf\""
        );
        assert_eq!(q["X-Amz-Expires"], "300");
    }
}
