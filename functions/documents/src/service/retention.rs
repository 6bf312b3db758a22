//! Retention and legal hold over every stored object of a document (seed 003). The envelope
//! completion calls [`retain`] with the 7-year date; admins place holds through the route.

use chrono::{DateTime, Utc};

use gsign_platform::cache::Cache;
use gsign_platform::storage::{DocumentStore, RetentionMode};

use crate::store::{self, Document};

/// Places (or releases) an S3 Object Lock legal hold on every stored version of `doc`.
#[tracing::instrument(skip_all)]
pub async fn set_legal_hold(store: &DocumentStore, doc: &Document, on: bool) -> anyhow::Result<()> {
    for object in doc.objects() {
        store.set_legal_hold(&object, on).await?;
    }
    Ok(())
}

/// Retains every stored version of `doc` until `until` in S3 (Object Lock) and records the
/// date on the row. Idempotent: applying the same date twice changes nothing; a later date
/// extends, an earlier one is refused by S3 in compliance mode and ignored by the row.
#[tracing::instrument(skip_all)]
pub async fn retain(
    client: &(impl gsign_platform::database::Session + ?Sized),
    store: &DocumentStore,
    cache: &Cache,
    doc: &Document,
    until: DateTime<Utc>,
    mode: RetentionMode,
) -> anyhow::Result<()> {
    for object in doc.objects() {
        store.retain_until(&object, until, mode).await?;
    }
    store::set_retention(client, doc.id, until).await?;
    cache.delete(&crate::service::cache_key(doc.id)).await?;
    Ok(())
}
