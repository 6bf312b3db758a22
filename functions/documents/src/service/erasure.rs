//! Erasing a deleted document's bytes: every version of every stored object, not just a
//! delete marker (a deleted document is under no retention or hold: deletion refuses those).

use gsign_platform::storage::DocumentStore;

use crate::store::{self, Document};

/// Erases every version of `doc`'s objects and records it.
#[tracing::instrument(skip_all)]
pub async fn erase(
    client: &(impl gsign_platform::database::Session + ?Sized),
    store: &DocumentStore,
    doc: &Document,
) -> anyhow::Result<()> {
    for object in doc.objects() {
        store.erase(&object.key).await?;
    }
    store::bytes_erased(client, doc.id).await?;
    Ok(())
}
