//! The document-packs service: [`DocPacksApi`] (the clause and template library in `library`,
//! packs in `packs`, their documents planned and typeset in `generate`), issuing its envelopes
//! through the envelopes service.

pub mod generate;
pub mod library;
pub mod packs;
pub mod schemas;

use gsign_core::Env;
use gsign_functions_envelopes::service::EnvelopesApi;
use gsign_platform::service::Base;
use gsign_platform::storage::DocumentStore;

/// The service behind the routes: the envelopes service (database, documents bucket,
/// signing links) it issues packs through.
pub struct DocPacksApi {
    envelopes: EnvelopesApi,
}

impl DocPacksApi {
    /// Reads the configuration from `env` (every problem at once) and builds the clients:
    /// the envelopes service, which packs issue their envelopes through.
    pub async fn from_env(env: &Env) -> Result<Self, gsign_platform::lambda::StartupError> {
        Ok(Self {
            envelopes: EnvelopesApi::from_env(env).await?,
        })
    }

    pub(crate) fn base(&self) -> &Base {
        self.envelopes.base()
    }

    fn store(&self) -> &DocumentStore {
        self.envelopes.store()
    }
}
