//! The HSM through PKCS#11 (`cryptoki`): CloudHSM in AWS, SoftHSM2 locally and in tests; the
//! same code, a different module path.
//!
//! One `Pkcs11` context per container (C_Initialize is process-wide), the token selected by
//! its label (slot numbers are not stable: SoftHSM assigns them at random), one logged-in
//! session kept across warm invocations. `Session` is `!Sync`, so it sits behind a mutex; the
//! signing engine will grow this into a small pool.

use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use gsign_core::EnvReader;
use secrecy::SecretString;
use serde::Serialize;

/// HSM settings.
#[derive(Debug, Clone)]
pub struct HsmConfig {
    /// `HSM_MODULE_PATH`: the PKCS#11 library (`/usr/lib/softhsm/libsofthsm2.so` locally,
    /// `/opt/cloudhsm/lib/libcloudhsm_pkcs11.so` in AWS).
    pub module: PathBuf,
    /// `HSM_TOKEN_LABEL`: the token to use.
    pub token_label: String,
    /// `HSM_PIN`: the user PIN (CloudHSM: `crypto-user:password`).
    pub pin: SecretString,
    /// `HSM_POOL_SIZE`: sessions kept open per container (default 2): concurrent signing
    /// tasks each take one, since a PKCS#11 session serves one operation at a time.
    pub pool_size: usize,
}

impl HsmConfig {
    /// Reads the HSM settings, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let module = r.required::<PathBuf>("HSM_MODULE_PATH");
        let token_label = r.required::<String>("HSM_TOKEN_LABEL");
        let pin = r.secret("HSM_PIN");
        let pool_size = r.or("HSM_POOL_SIZE", 2usize);
        if !(1..=64).contains(&pool_size) {
            r.problem("HSM_POOL_SIZE must be 1 to 64");
        }
        Some(Self {
            module: module?,
            token_label: token_label?,
            pin: pin?,
            pool_size,
        })
    }
}

/// Where the token is, without its PIN: what a check that never logs in needs (the health
/// function holds no PIN).
#[derive(Debug, Clone)]
pub struct HsmTokenConfig {
    /// `HSM_MODULE_PATH`, as in [`HsmConfig`].
    pub module: PathBuf,
    /// `HSM_TOKEN_LABEL`, as in [`HsmConfig`].
    pub token_label: String,
}

impl HsmTokenConfig {
    /// Reads the module path and token label, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>) -> Option<Self> {
        let module = r.required::<PathBuf>("HSM_MODULE_PATH");
        let token_label = r.required::<String>("HSM_TOKEN_LABEL");
        Some(Self {
            module: module?,
            token_label: token_label?,
        })
    }
}

/// Checks the token without logging in: the module loads, a token carries the label, it is
/// initialized with a usable user PIN (not locked), and it opens a read-only session. One
/// `C_GetTokenInfo` and a session open and close: cheap enough for every health call.
/// Blocking: call from `spawn_blocking`.
pub fn probe(config: &HsmTokenConfig) -> Result<TokenStatus, HsmError> {
    let ctx = context(&config.module)?;
    let (slot, info) = ctx
        .get_slots_with_token()?
        .into_iter()
        .find_map(|slot| {
            let info = ctx.get_token_info(slot).ok()?;
            (info.label().trim_end() == config.token_label).then_some((slot, info))
        })
        .ok_or_else(|| HsmError::TokenNotFound(config.token_label.clone()))?;
    if !info.token_initialized() || !info.user_pin_initialized() {
        return Err(HsmError::Unusable("the token is not initialized"));
    }
    if info.user_pin_locked() || info.error_state() {
        return Err(HsmError::Unusable(
            "the token is locked or in an error state",
        ));
    }
    drop(ctx.open_ro_session(slot)?);
    Ok(TokenStatus {
        label: info.label().trim_end().to_owned(),
        manufacturer: info.manufacturer_id().trim_end().to_owned(),
        model: info.model().trim_end().to_owned(),
        logged_in: false,
    })
}

/// The process-wide context for `module`: PKCS#11 allows one C_Initialize per process, and
/// dropping a context finalizes the library for everyone, so contexts are shared, never dropped.
fn context(module: &std::path::Path) -> Result<Pkcs11, HsmError> {
    static CONTEXTS: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());
    let mut contexts = CONTEXTS.lock().map_err(|_| HsmError::Poisoned)?;
    if let Some((_, ctx)) = contexts.iter().find(|(path, _)| path == module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(err) => return Err(err.into()),
    }
    contexts.push((module.to_owned(), ctx.clone()));
    Ok(ctx)
}

/// HSM failures; each names the PKCS#11 call that failed.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    /// The module could not be loaded or a PKCS#11 call failed.
    #[error("PKCS#11: {0}")]
    Pkcs11(#[from] CkError),
    /// No token carries the configured label.
    #[error("no PKCS#11 token labelled {0:?}")]
    TokenNotFound(String),
    /// No key with that id in the token.
    #[error("no such key in the HSM")]
    KeyNotFound,
    /// A key or signature could not be encoded.
    #[error("encoding: {0}")]
    Encoding(String),
    /// The token is there but cannot sign (not initialized, PIN locked).
    #[error("the token is unusable: {0}")]
    Unusable(&'static str),
    /// A thread panicked while holding the session.
    #[error("the HSM session was poisoned by an earlier panic")]
    Poisoned,
}

/// What the token reports about itself.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TokenStatus {
    /// Token label.
    pub label: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Whether our session is logged in as the user.
    pub logged_in: bool,
}

/// An open, logged-in HSM token with a small pool of sessions.
pub struct Hsm {
    ctx: Pkcs11,
    slot: Slot,
    idle: Mutex<Vec<Session>>,
    returned: std::sync::Condvar,
    /// Private-key handles by `CKA_ID`: a signature then costs one PKCS#11 call, not three.
    signing_keys: Mutex<std::collections::HashMap<Vec<u8>, cryptoki::object::ObjectHandle>>,
}

/// Attempts of an idempotent call when the HSM says it is busy (CloudHSM throttling surfaces
/// as `CKR_DEVICE_ERROR`); the waits double from 50 ms.
const BUSY_ATTEMPTS: u32 = 4;

fn is_busy(err: &CkError) -> bool {
    matches!(
        err,
        CkError::Pkcs11(
            RvError::DeviceError | RvError::DeviceMemory | RvError::FunctionFailed,
            _
        )
    )
}

impl Hsm {
    /// Loads the module, finds the token by label, opens a read-write session and logs in.
    /// Blocking: call from `spawn_blocking` on a runtime thread.
    pub fn open(config: &HsmConfig) -> Result<Self, HsmError> {
        let ctx = context(&config.module)?;
        let slot = ctx
            .get_slots_with_token()?
            .into_iter()
            .find(|slot| {
                ctx.get_token_info(*slot)
                    .map(|info| info.label().trim_end() == config.token_label)
                    .unwrap_or(false)
            })
            .ok_or_else(|| HsmError::TokenNotFound(config.token_label.clone()))?;
        let mut sessions = Vec::with_capacity(config.pool_size);
        for _ in 0..config.pool_size.max(1) {
            let session = ctx.open_rw_session(slot)?;
            match session.login(UserType::User, Some(&config.pin)) {
                // Login state is per application and token: the first session logged in for
                // all of them.
                Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(err) => return Err(err.into()),
            }
            sessions.push(session);
        }
        Ok(Self {
            ctx,
            slot,
            idle: Mutex::new(sessions),
            returned: std::sync::Condvar::new(),
            signing_keys: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Runs `f` with an idle logged-in session, waiting for one if all are busy. Blocking.
    pub fn with_session<T>(
        &self,
        f: impl FnOnce(&Session) -> Result<T, CkError>,
    ) -> Result<T, HsmError> {
        let session = {
            let mut idle = self.idle.lock().map_err(|_| HsmError::Poisoned)?;
            loop {
                if let Some(session) = idle.pop() {
                    break session;
                }
                idle = self.returned.wait(idle).map_err(|_| HsmError::Poisoned)?;
            }
        };
        let result = f(&session);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(session);
            self.returned.notify_one();
        }
        Ok(result?)
    }

    /// The cached private-key handle of `id`.
    pub(crate) fn cached_signing_key(&self, id: &[u8]) -> Option<cryptoki::object::ObjectHandle> {
        self.signing_keys.lock().ok()?.get(id).copied()
    }

    /// Remembers the private-key handle of `id`.
    pub(crate) fn cache_signing_key(&self, id: &[u8], handle: cryptoki::object::ObjectHandle) {
        if let Ok(mut keys) = self.signing_keys.lock() {
            keys.insert(id.to_vec(), handle);
        }
    }

    /// Forgets the handle of `id` (destroyed, or found invalid).
    pub(crate) fn forget_signing_key(&self, id: &[u8]) {
        if let Ok(mut keys) = self.signing_keys.lock() {
            keys.remove(id);
        }
    }

    /// Like [`Hsm::with_session`] for an idempotent `f` (a signature, a lookup): retried with
    /// backoff while the HSM says it is busy. Blocking.
    pub fn with_session_retrying<T>(
        &self,
        f: impl Fn(&Session) -> Result<T, CkError>,
    ) -> Result<T, HsmError> {
        let mut wait = std::time::Duration::from_millis(50);
        for _ in 1..BUSY_ATTEMPTS {
            match self.with_session(&f) {
                Err(HsmError::Pkcs11(err)) if is_busy(&err) => {
                    tracing::warn!(error = %err, "HSM busy; retrying");
                    std::thread::sleep(wait);
                    wait *= 2;
                }
                other => return other,
            }
        }
        self.with_session(&f)
    }

    /// Asks the token who it is and proves the session works by drawing random bytes from it.
    /// Blocking.
    pub fn status(&self) -> Result<TokenStatus, HsmError> {
        let info = self.ctx.get_token_info(self.slot)?;
        let logged_in = self.with_session(|session| {
            let mut nonce = [0u8; 16];
            session.generate_random_slice(&mut nonce)?;
            let state = session.get_session_info()?.session_state();
            Ok(matches!(
                state,
                cryptoki::session::SessionState::RwUser | cryptoki::session::SessionState::RoUser
            ))
        })?;
        Ok(TokenStatus {
            label: info.label().trim_end().to_owned(),
            manufacturer: info.manufacturer_id().trim_end().to_owned(),
            model: info.model().trim_end().to_owned(),
            logged_in,
        })
    }
}

/// A lazily opened HSM that heals: the token is opened on first use (not at cold start), and
/// after any failure the session is dropped so the next call opens a fresh one. A CloudHSM
/// session lost to a network blip therefore costs one failed call, not the container.
pub struct HsmHandle {
    config: HsmConfig,
    current: tokio::sync::Mutex<Option<std::sync::Arc<Hsm>>>,
}

impl HsmHandle {
    /// A handle for `config`; opens nothing yet.
    pub fn new(config: HsmConfig) -> Self {
        Self {
            config,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The open token, opening it first if needed. A caller that then fails on it calls
    /// [`HsmHandle::discard`].
    pub async fn session(&self) -> Result<std::sync::Arc<Hsm>, HsmError> {
        let mut current = self.current.lock().await;
        Ok(match current.as_ref() {
            Some(hsm) => std::sync::Arc::clone(hsm),
            None => {
                let config = self.config.clone();
                let opened = tokio::task::spawn_blocking(move || Hsm::open(&config))
                    .await
                    .map_err(|_| HsmError::Poisoned)??;
                let opened = std::sync::Arc::new(opened);
                *current = Some(std::sync::Arc::clone(&opened));
                opened
            }
        })
    }

    /// Drops the session after a failure, so the next use reopens the token.
    pub async fn discard(&self) {
        self.current.lock().await.take();
    }

    /// Runs the blocking `work` with the open token on the blocking pool, opening the token
    /// first if needed; a failure discards the session so the next call reopens it.
    pub async fn run<T, F>(&self, work: F) -> Result<T, HsmError>
    where
        T: Send + 'static,
        F: FnOnce(&Hsm) -> Result<T, HsmError> + Send + 'static,
    {
        let hsm = self.session().await?;
        let result = tokio::task::spawn_blocking(move || work(&hsm))
            .await
            .map_err(|_| HsmError::Poisoned)?;
        if result.is_err() {
            self.discard().await;
        }
        result
    }
}
