//! Sign-up and sessions: `POST /v1/auth/register`, `/login`, `/refresh`, `/logout`.
//!
//! Every state change writes its audit event (and email) to the outbox in the same
//! transaction; the rows are published right after commit and swept up later if that fails.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gsign_core::accounts::{password_problems, slugify, EmailAddress};
use gsign_core::{Credential, Env, FieldError, Principal, Role};
use gsign_platform::cache::Cache;
use gsign_platform::credentials::{self, AccessTokens};
use gsign_platform::database::{Database, Transaction};
use gsign_platform::outbox::{self, AuditEvent, Email, Relay};
use gsign_platform::ratelimit::RateLimiter;
use gsign_platform::sessions;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AccountsCase, AccountsError};
use crate::service::{Common, CommonConfig};
use crate::store::sessions::NewSession;
use crate::store::tokens::{self, Purpose};
use crate::store::users::{self, Contact, NewOwner, SignInAccount};
use crate::store::{self, api_keys, organizations};

/// A sign-in with an unverified address mails a new verification link at most this often.
pub const RESEND_VERIFICATION_AFTER_MINUTES: i32 = 5;

/// Failed sign-ins and password-reset requests answer no sooner than this after they arrived,
/// so a known address (which costs an audit write and a publish) takes as long as an unknown
/// one. Measured by `cargo bench -p gsign-tests --bench accounts`.
pub const UNIFORM_ANSWER_FLOOR: Duration = Duration::from_millis(250);

/// Consecutive wrong passwords that lock an account.
pub const MAX_LOGIN_FAILURES: i32 = 10;

/// How long each successive lockout of an account lasts (the last repeats); a password reset
/// or a successful sign-in after the lockout ends the escalation.
pub const LOGIN_LOCKOUTS_SECONDS: [f64; 3] = [15.0 * 60.0, 60.0 * 60.0, 24.0 * 60.0 * 60.0];

/// Where the request came from, for sessions and audit events.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Source IP as API Gateway saw it.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

/// The sign-up and session service shared by the four routes.
pub struct AuthService {
    pub(crate) db: Database,
    cache: Arc<Cache>,
    pub(crate) limiter: RateLimiter,
    relay: Relay,
    /// Only on the routes that mint access tokens (login, refresh): the signing key lives
    /// nowhere it is not needed.
    tokens: Option<AccessTokens>,
    app_url: String,
    refresh_ttl: Duration,
    /// A real argon2id hash of a random password: verified against when the email is unknown,
    /// so a login takes as long for an unknown address as for a wrong password. Made on first
    /// need, not at cold start (it costs one hash, ~30 ms).
    decoy_hash: tokio::sync::OnceCell<String>,
}

impl AuthService {
    /// Reads the configuration (every problem at once) and builds the clients; with
    /// `mints_tokens`, the access-token key too (`ACCESS_TOKEN_KEY`, login and refresh only).
    #[tracing::instrument(skip_all)]
    pub async fn from_env(
        env: &Env,
        mints_tokens: bool,
    ) -> Result<Self, gsign_platform::lambda::StartupError> {
        let mut r = env.reader();
        let common = CommonConfig::read(&mut r);
        let key = if mints_tokens {
            r.secret("ACCESS_TOKEN_KEY").map(Some)
        } else {
            Some(None)
        };
        let issuer = r.or("ACCESS_TOKEN_ISSUER", "gsign".to_owned());
        let audience = r.or("ACCESS_TOKEN_AUDIENCE", "gsign-api".to_owned());
        let refresh_days = r.or("REFRESH_TOKEN_TTL_DAYS", 30u64);
        let (common, key) = r.finish(|| Some((common?, key?)))?;
        let Common {
            db,
            cache,
            limiter,
            relay,
            app_url,
            ..
        } = Common::build(common).await?;
        Ok(Self {
            db,
            cache,
            limiter,
            relay,
            tokens: key
                .map(|key| AccessTokens::new(&key, &issuer, &audience, 15 * 60))
                .transpose()
                .map_err(anyhow::Error::from)?,
            app_url,
            refresh_ttl: Duration::from_secs(refresh_days * 86_400),
            decoy_hash: tokio::sync::OnceCell::new(),
        })
    }
}

/// `POST /v1/auth/register` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "organization_name": "Говь Трейд ХХК",
    "email": "owner@gobi-trade.mn",
    "password": "correct horse battery staple",
    "first_name": "Батбаяр",
}))]
pub struct RegisterInput {
    /// The new organization's name (1 to 255 characters once trimmed).
    #[schemars(length(min = 1, max = 255))]
    pub organization_name: String,
    /// The owner's email address.
    #[schemars(email, length(max = 254))]
    pub email: String,
    /// The owner's password: 8 to 128 characters, not a common one, not the address.
    #[schemars(with = "String", length(min = 8, max = 128))]
    pub password: SecretString,
    /// Optional first name (at most 100 characters).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub first_name: Option<String>,
    /// Optional last name (at most 100 characters).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub last_name: Option<String>,
}

/// `POST /v1/auth/login` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "email": "owner@gobi-trade.mn",
    "password": "correct horse battery staple",
}))]
pub struct LoginInput {
    /// Email address.
    pub email: String,
    /// Password.
    #[schemars(with = "String")]
    pub password: SecretString,
}

/// `POST /v1/auth/logout` body (optional: an empty body means `{}`).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutInput {
    /// End every session of the caller (every browser and device), not only this one.
    #[serde(default)]
    pub everywhere: bool,
}

/// `POST /v1/auth/refresh` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    /// The current refresh token.
    #[schemars(with = "String")]
    pub refresh_token: SecretString,
}

/// A single-use token from an email link.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// The token.
    #[schemars(with = "String")]
    pub token: SecretString,
}

/// `POST /v1/auth/password-reset` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestInput {
    /// The account's email address.
    pub email: String,
}

/// `POST /v1/auth/password-reset/confirm` and `/v1/auth/accept-invitation` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordInput {
    /// The token from the email.
    #[schemars(with = "String")]
    pub token: SecretString,
    /// The new password: 8 to 128 characters, not a common one.
    #[schemars(with = "String", length(min = 8, max = 128))]
    pub password: SecretString,
    /// First name (invitations only; at most 100 characters).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub first_name: Option<String>,
    /// Last name (invitations only; at most 100 characters).
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub last_name: Option<String>,
}

/// What register answers, the same whether the address was new or already had an account
/// (whose owner is mailed instead), so the route tells nobody who has an account.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Registered {
    /// The address, as normalised (domain lowercased).
    email: String,
    /// Always `verification_mail_sent`: the next step is in the mailbox.
    #[schemars(extend("const" = "verification_mail_sent"))]
    status: &'static str,
}

/// Tokens for a session.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TokenPair {
    /// The access token, for `Authorization: Bearer …`.
    access_token: String,
    /// Always `Bearer`.
    #[schemars(extend("const" = "Bearer"))]
    token_type: &'static str,
    /// The access token's lifetime in seconds (900).
    expires_in: i64,
    /// The refresh token, single use: `POST /v1/auth/refresh` exchanges it for a new pair.
    refresh_token: String,
    /// When the session ends, however often it is refreshed.
    refresh_expires_at: DateTime<Utc>,
}

/// Whose session it is.
#[derive(Clone, Copy)]
struct SessionOwner {
    user: Uuid,
    org: Uuid,
    role: Role,
}

fn audit_event(
    action: &str,
    organization_id: Uuid,
    actor: Option<Uuid>,
    resource: (&str, String),
    client: &ClientInfo,
    details: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        action: action.to_owned(),
        organization_id,
        actor_user_id: actor,
        actor_api_key_id: None,
        resource_type: resource.0.to_owned(),
        resource_id: resource.1,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        details,
    }
}

/// The trimmed organization name and the parsed address of a registration, every problem
/// with it reported at once.
fn checked_registration(input: &RegisterInput) -> Result<(String, EmailAddress), AccountsError> {
    let mut errors = Vec::new();
    let name = input.organization_name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 255 {
        errors.push(FieldError::new(
            "/organization_name",
            "must be 1 to 255 characters",
        ));
    }
    let email = EmailAddress::parse(&input.email)
        .map_err(|e| errors.push(FieldError::new("/email", e)))
        .ok();
    errors.extend(password_problems(
        input.password.expose_secret(),
        email.as_ref(),
    ));
    bounded("first_name", &input.first_name, 100, &mut errors);
    bounded("last_name", &input.last_name, 100, &mut errors);
    match email.filter(|_| errors.is_empty()) {
        Some(email) => Ok((name, email)),
        None => Err(AccountsError::Validation(errors)),
    }
}

/// The user, session family and organization of a signed-in `principal` (an API key has no
/// session to end).
fn session_of(principal: &Principal) -> Result<(Uuid, Uuid, Uuid), AccountsError> {
    let Credential::Session {
        user_id,
        session_id,
    } = &principal.credential
    else {
        return Err(AccountsError::Forbidden(
            gsign_core::Action::UpdateOwnProfile,
        ));
    };
    match (
        user_id.parse::<Uuid>(),
        session_id.parse::<Uuid>(),
        principal.organization_id.parse::<Uuid>(),
    ) {
        (Ok(user), Ok(family), Ok(org)) => Ok((user, family, org)),
        _ => Err(AccountsError::Unauthenticated),
    }
}

fn bounded(field: &str, value: &Option<String>, max: usize, errors: &mut Vec<FieldError>) {
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        errors.push(FieldError::new(
            format!("/{field}"),
            format!("must be at most {max} characters"),
        ));
    }
}

impl AuthService {
    #[tracing::instrument(skip_all)]
    async fn hash(&self, password: SecretString) -> Result<String, AccountsError> {
        tokio::task::spawn_blocking(move || credentials::hash_password(&password))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(|e| AccountsError::Internal(e.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn decoy(&self) -> Result<String, AccountsError> {
        self.decoy_hash
            .get_or_try_init(|| async {
                let decoy = credentials::new_token().secret;
                self.hash(decoy).await
            })
            .await
            .cloned()
    }

    #[tracing::instrument(skip_all)]
    async fn verify(&self, password: SecretString, hash: String) -> Result<bool, AccountsError> {
        Ok(
            tokio::task::spawn_blocking(move || credentials::verify_password(&password, &hash))
                .await
                .map_err(anyhow::Error::from)?,
        )
    }

    /// Creates an organization and its owner, and sends the verification email.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        input: RegisterInput,
        client: &ClientInfo,
    ) -> Result<Registered, AccountsError> {
        let (name, email) = checked_registration(&input)?;
        // Hashed on both paths, so a taken address answers in the same time as a new one.
        let password_hash = self.hash(input.password).await?;
        let answer = Registered {
            email: email.as_str().to_owned(),
            status: "verification_mail_sent",
        };
        let slug = format!(
            "{}-{}",
            slugify(&name),
            &Uuid::new_v4().simple().to_string()[..6]
        );
        let mut client_db = self.db.connect().await?;
        let tx = client_db.begin().await?;
        let org = organizations::insert(&tx, &name, &slug).await?;
        let owner = NewOwner {
            org,
            email: email.as_str(),
            password_hash: &password_hash,
            first_name: input.first_name.as_deref(),
            last_name: input.last_name.as_deref(),
        };
        let user = match users::insert_owner(&tx, &owner).await {
            Ok(user) => user,
            Err(err) if err.is_unique_violation() => {
                drop(tx);
                self.mail_existing_account(&email, client).await?;
                return Ok(answer);
            }
            Err(err) => return Err(err.into()),
        };
        let registered = audit_event(
            "user.registered",
            org,
            Some(user),
            ("user", user.to_string()),
            client,
            serde_json::json!({"organization_slug": slug}),
        );
        let events = vec![
            outbox::audit(&tx, &registered).await?,
            self.verification_mail(&tx, (user, org), email.as_str(), owner.first_name, &name)
                .await?,
        ];
        tx.commit().await?;
        self.relay.publish(&self.db, &events).await;
        Ok(answer)
    }

    /// Someone registered with an address that has an account: its owner is told, with a way
    /// to sign in or reset the password; the caller learns nothing.
    #[tracing::instrument(skip_all)]
    async fn mail_existing_account(
        &self,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Result<(), AccountsError> {
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let Some(account) = users::account_with_address(&tx, email.as_str()).await? else {
            return Ok(());
        };
        // To the address as the account has it, whatever case the caller typed.
        let Contact {
            id: user,
            org,
            first_name,
            email: to,
        } = account;
        let events = vec![
            outbox::audit(
                &tx,
                &audit_event(
                    "user.registration_repeated",
                    org,
                    Some(user),
                    ("user", user.to_string()),
                    client,
                    serde_json::json!({}),
                ),
            )
            .await?,
            outbox::email(
                &tx,
                org,
                &Email {
                    template: "account_exists".to_owned(),
                    to,
                    data: serde_json::json!({
                        "first_name": first_name,
                        "link": format!("{}/sign-in", self.app_url),
                        "reset_link": format!("{}/reset-password", self.app_url),
                    }),
                    ..Default::default()
                },
            )
            .await?,
        ];
        tx.commit().await?;
        self.relay.publish(&self.db, &events).await;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(family = %family))]
    async fn start_session(
        &self,
        tx: &Transaction<'_>,
        owner: &SessionOwner,
        family: Uuid,
        expires_at: DateTime<Utc>,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountsError> {
        let SessionOwner { user, org, role } = *owner;
        let refresh = credentials::new_token();
        let session = NewSession {
            user,
            org,
            family,
            refresh_token_hash: &refresh.hash,
            expires_at,
            ip: client.ip.as_deref().and_then(|ip| ip.parse().ok()),
            user_agent: client.user_agent.as_deref(),
        };
        store::sessions::insert(tx, &session).await?;
        let tokens = self.tokens.as_ref().ok_or_else(|| {
            AccountsError::Internal(anyhow::anyhow!(
                "this route does not mint access tokens (no ACCESS_TOKEN_KEY)"
            ))
        })?;
        let access_token = tokens
            .issue(
                &user.to_string(),
                &org.to_string(),
                role.as_str(),
                &family.to_string(),
                Utc::now().timestamp(),
            )
            .map_err(|e| AccountsError::Internal(e.into()))?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: tokens.ttl_seconds,
            refresh_token: refresh.secret.expose_secret().to_owned(),
            refresh_expires_at: expires_at,
        })
    }

    /// Checks the password and opens a session. Unknown address, wrong password, locked and
    /// disabled account give the same answer in the same time (no sooner than
    /// [`UNIFORM_ANSWER_FLOOR`]).
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        input: LoginInput,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountsError> {
        let started = tokio::time::Instant::now();
        let result = self.check_and_open_session(input, client).await;
        if matches!(
            result,
            Err(AccountsError::Area(AccountsCase::InvalidCredentials))
        ) {
            tokio::time::sleep_until(started + UNIFORM_ANSWER_FLOOR).await;
        }
        result
    }

    #[tracing::instrument(skip_all)]
    async fn check_and_open_session(
        &self,
        input: LoginInput,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountsError> {
        let email = EmailAddress::parse(&input.email).ok();
        if let Some(email) = &email {
            self.limit_guesses(email).await?;
        }
        let mut conn = self.db.connect().await?;
        let account = match &email {
            Some(email) => users::for_sign_in(&conn, email.as_str()).await?,
            None => None,
        };
        let hash = match account.as_ref().and_then(|a| a.password_hash.clone()) {
            Some(hash) => hash,
            None => self.decoy().await?,
        };
        let password_ok = self.verify(input.password, hash).await?;
        let Some(account) = account else {
            return Err(AccountsCase::InvalidCredentials.into());
        };
        let tx = conn.begin().await?;
        if !(password_ok && account.active) || account.locked {
            return self.refuse_sign_in(tx, &account, password_ok, client).await;
        }
        if !account.verified {
            // Only the owner of the password learns this, and gets a fresh link.
            let mail_sent = self.resend_verification(tx, &account, client).await?;
            return Err(AccountsCase::EmailNotVerified { mail_sent }.into());
        }
        let (user, org) = (account.contact.id, account.contact.org);
        users::record_sign_in(&tx, user).await?;
        let family = Uuid::new_v4();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.refresh_ttl).map_err(anyhow::Error::from)?;
        let owner = SessionOwner {
            user,
            org,
            role: account.role,
        };
        let pair = self
            .start_session(&tx, &owner, family, expires_at, client)
            .await?;
        let event = outbox::audit(
            &tx,
            &audit_event(
                "auth.login_succeeded",
                org,
                Some(user),
                ("session", family.to_string()),
                client,
                serde_json::json!({}),
            ),
        )
        .await?;
        tx.commit().await?;
        self.relay.publish(&self.db, &[event]).await;
        Ok(pair)
    }

    /// Guessing one account's password is limited per address, whatever the IP.
    #[tracing::instrument(skip_all)]
    async fn limit_guesses(&self, email: &EmailAddress) -> Result<(), AccountsError> {
        let decision = self
            .limiter
            .check_identifier("login", email.as_str())
            .await
            .map_err(|_| AccountsCase::LimiterUnavailable)?;
        if !decision.allowed {
            return Err(AccountsCase::RateLimited(decision).into());
        }
        Ok(())
    }

    /// Refuses a sign-in to `account` (locked, inactive, or a wrong password, which counts
    /// toward a lockout) and records why, for the audit trail only: the caller hears
    /// [`AccountsCase::InvalidCredentials`] whatever the reason.
    #[tracing::instrument(skip_all)]
    async fn refuse_sign_in(
        &self,
        tx: Transaction<'_>,
        account: &SignInAccount,
        password_ok: bool,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountsError> {
        let user = account.contact.id;
        let reason = if account.locked {
            "account_locked"
        } else if password_ok {
            "account_inactive"
        } else if
        // Counted atomically; the tenth in a row locks the account, longer each time.
        users::count_failed_sign_in(
            &tx,
            user,
            MAX_LOGIN_FAILURES,
            &LOGIN_LOCKOUTS_SECONDS,
        )
        .await?
        {
            "wrong_password_locked"
        } else {
            "wrong_password"
        };
        let event = outbox::audit(
            &tx,
            &audit_event(
                "auth.login_failed",
                account.contact.org,
                Some(user),
                ("user", user.to_string()),
                client,
                serde_json::json!({"reason": reason}),
            ),
        )
        .await?;
        tx.commit().await?;
        self.relay.publish(&self.db, &[event]).await;
        Err(AccountsCase::InvalidCredentials.into())
    }

    /// Mails a new verification link to `account` unless one went out in the last
    /// [`RESEND_VERIFICATION_AFTER_MINUTES`]; whether it did.
    #[tracing::instrument(skip_all)]
    async fn resend_verification(
        &self,
        tx: Transaction<'_>,
        account: &SignInAccount,
        client: &ClientInfo,
    ) -> Result<bool, AccountsError> {
        let (user, org) = (account.contact.id, account.contact.org);
        // Serialises concurrent sign-ins of the same account.
        users::lock(&tx, user).await?;
        let recent = tokens::sent_within(
            &tx,
            user,
            Purpose::VerifyEmail,
            RESEND_VERIFICATION_AFTER_MINUTES,
        )
        .await?;
        if recent {
            return Ok(false);
        }
        let events = vec![
            outbox::audit(
                &tx,
                &audit_event(
                    "user.verification_resent",
                    org,
                    Some(user),
                    ("user", user.to_string()),
                    client,
                    serde_json::json!({}),
                ),
            )
            .await?,
            self.verification_mail(
                &tx,
                (user, org),
                &account.contact.email,
                account.contact.first_name.as_deref(),
                &account.organization_name,
            )
            .await?,
        ];
        tx.commit().await?;
        self.relay.publish(&self.db, &events).await;
        Ok(true)
    }

    /// A new single-use verification token (24 hours) for `(user, org)` and the mail that
    /// carries its link, written in `tx`; the outbox row of the mail.
    #[tracing::instrument(skip_all)]
    async fn verification_mail(
        &self,
        tx: &Transaction<'_>,
        (user, org): (Uuid, Uuid),
        to: &str,
        first_name: Option<&str>,
        organization_name: &str,
    ) -> Result<Uuid, AccountsError> {
        let verification = credentials::new_token();
        tokens::insert(tx, Purpose::VerifyEmail, user, org, &verification.hash).await?;
        Ok(outbox::email(
            tx,
            org,
            &Email {
                template: "verify_email".to_owned(),
                to: to.to_owned(),
                data: serde_json::json!({
                    "first_name": first_name,
                    "organization_name": organization_name,
                    "link": format!("{}/verify-email?token={}", self.app_url, verification.secret.expose_secret()),
                }),
                ..Default::default()
            },
        )
        .await?)
    }

    /// Exchanges a refresh token for a new pair. A token presented twice means it was stolen:
    /// the whole session family is revoked.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(
        &self,
        input: RefreshInput,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountsError> {
        let hash = credentials::sha256_hex(input.refresh_token.expose_secret());
        let mut client_db = self.db.connect().await?;
        let tx = client_db.begin().await?;
        let Some(presented) = store::sessions::lock_by_refresh_token(&tx, &hash).await? else {
            return Err(AccountsCase::InvalidCredentials.into());
        };
        let store::sessions::Presented {
            id,
            user,
            org,
            family,
            reused,
            live,
            expires_at,
            role,
            active,
        } = presented;
        if reused {
            store::sessions::revoke_family(&tx, family).await?;
            let event = outbox::audit(
                &tx,
                &audit_event(
                    "auth.refresh_token_reused",
                    org,
                    Some(user),
                    ("session", family.to_string()),
                    client,
                    serde_json::json!({"family_revoked": true}),
                ),
            )
            .await?;
            tx.commit().await?;
            if let Err(err) = sessions::forget(&self.cache, user, family).await {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "revoked family still cached until its access tokens expire"
                );
            }
            self.relay.publish(&self.db, &[event]).await;
            return Err(AccountsCase::InvalidCredentials.into());
        }
        if !(live && active) {
            return Err(AccountsCase::InvalidCredentials.into());
        }
        store::sessions::mark_rotated(&tx, id).await?;
        // The family keeps its absolute expiry: refreshing never extends a session forever.
        let owner = SessionOwner { user, org, role };
        let pair = self
            .start_session(&tx, &owner, family, expires_at, client)
            .await?;
        tx.commit().await?;
        Ok(pair)
    }

    /// Ends the caller's session family, or with `everywhere` every session of the caller.
    #[tracing::instrument(skip_all)]
    pub async fn logout(
        &self,
        principal: &Principal,
        input: LogoutInput,
        client: &ClientInfo,
    ) -> Result<(), AccountsError> {
        let (user, family, org) = session_of(principal)?;
        let mut client_db = self.db.connect().await?;
        let tx = client_db.begin().await?;
        let revoked = if input.everywhere {
            Self::revoke_all_sessions(&tx, user).await?
        } else {
            store::sessions::revoke_own_family(&tx, user, org, family).await?
        };
        if revoked == 0 {
            // Already ended: logging out twice is not an error, and not an event.
            return Ok(());
        }
        // Everywhere: the cached sessions of every device go too, with a new version so a
        // refill racing this cannot bring one back.
        let version = if input.everywhere {
            Some(sessions::bump_version(&tx, user).await?)
        } else {
            None
        };
        let event = outbox::audit(
            &tx,
            &audit_event(
                if input.everywhere {
                    "auth.logout_everywhere"
                } else {
                    "auth.logout"
                },
                org,
                Some(user),
                ("session", family.to_string()),
                client,
                serde_json::json!({ "sessions_revoked": revoked }),
            ),
        )
        .await?;
        tx.commit().await?;
        match version {
            Some(version) => self.forget_all(user, version).await,
            None => self.forget_family(user, family).await,
        }
        self.relay.publish(&self.db, &[event]).await;
        Ok(())
    }

    /// Drops a logged-out session family from the cache.
    #[tracing::instrument(skip_all, fields(family = %family))]
    async fn forget_family(&self, user: Uuid, family: Uuid) {
        if let Err(err) = sessions::forget(&self.cache, user, family).await {
            // Postgres is the truth; a cached entry can outlive it only while Redis is
            // unreachable, and never beyond the access token's 15 minutes.
            tracing::warn!(
                error = format!("{err:#}"),
                "logout could not clear the session cache"
            );
        }
    }

    /// Consumes a single-use token of `purpose`: returns (user, organization, email) and
    /// marks it used, or `None` if unknown, used or expired.
    #[tracing::instrument(skip_all)]
    async fn consume_token(
        &self,
        tx: &Transaction<'_>,
        purpose: Purpose,
        token: &SecretString,
    ) -> Result<Option<(Uuid, Uuid, String)>, AccountsError> {
        let hash = credentials::sha256_hex(token.expose_secret());
        Ok(tokens::consume(tx, purpose, &hash).await?)
    }

    /// Revokes every session of `user` in Postgres; the caller clears Redis after commit.
    #[tracing::instrument(skip_all, fields(user = %user))]
    async fn revoke_all_sessions(tx: &Transaction<'_>, user: Uuid) -> Result<u64, AccountsError> {
        Ok(store::sessions::revoke_all_of(tx, user, None).await?)
    }

    #[tracing::instrument(skip_all, fields(user = %user))]
    async fn forget_all(&self, user: Uuid, version: i64) {
        sessions::invalidate(&self.cache, user, version).await;
    }

    /// Confirms the email address from the verification link.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(
        &self,
        input: TokenInput,
        client: &ClientInfo,
    ) -> Result<(), AccountsError> {
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let (user, org, _) = self
            .consume_token(&tx, Purpose::VerifyEmail, &input.token)
            .await?
            .ok_or(AccountsCase::InvalidCredentials)?;
        users::mark_email_verified(&tx, user).await?;
        let event = outbox::audit(
            &tx,
            &audit_event(
                "user.email_verified",
                org,
                Some(user),
                ("user", user.to_string()),
                client,
                serde_json::json!({}),
            ),
        )
        .await?;
        tx.commit().await?;
        self.relay.publish(&self.db, &[event]).await;
        Ok(())
    }

    /// Sends a reset link if the address belongs to an active account; answers the same, no
    /// sooner than [`UNIFORM_ANSWER_FLOOR`], either way, so the route does not reveal who has
    /// an account.
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(
        &self,
        input: ResetRequestInput,
        client: &ClientInfo,
    ) -> Result<(), AccountsError> {
        let started = tokio::time::Instant::now();
        let result = self.send_reset_link(input, client).await;
        tokio::time::sleep_until(started + UNIFORM_ANSWER_FLOOR).await;
        result
    }

    #[tracing::instrument(skip_all)]
    async fn send_reset_link(
        &self,
        input: ResetRequestInput,
        client: &ClientInfo,
    ) -> Result<(), AccountsError> {
        let Ok(email) = EmailAddress::parse(&input.email) else {
            return Ok(());
        };
        // Over the per-address limit, nothing more is sent; the answer stays the same.
        match self.limiter.check_identifier("reset", email.as_str()).await {
            Ok(decision) if decision.allowed => {}
            Ok(_) => return Ok(()),
            Err(_) => return Err(AccountsError::Area(AccountsCase::LimiterUnavailable)),
        }
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let Some(Contact {
            id: user,
            org,
            email: to,
            ..
        }) = users::active_with_address(&tx, email.as_str()).await?
        else {
            return Ok(());
        };
        let token = credentials::new_token();
        tokens::insert(&tx, Purpose::PasswordReset, user, org, &token.hash).await?;
        let events = vec![
            outbox::audit(&tx, &audit_event("user.password_reset_requested", org, Some(user), ("user", user.to_string()), client, serde_json::json!({}))).await?,
            outbox::email(
                &tx,
                org,
                &Email {
                    template: "password_reset".to_owned(),
                    to,
                    data: serde_json::json!({"link": format!("{}/reset-password?token={}", self.app_url, token.secret.expose_secret())}),
                    ..Default::default()
                },
            )
            .await?,
        ];
        tx.commit().await?;
        self.relay.publish(&self.db, &events).await;
        Ok(())
    }

    /// Sets a new password from a reset link; every session of the account ends.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_password_reset(
        &self,
        input: NewPasswordInput,
        client: &ClientInfo,
    ) -> Result<(), AccountsError> {
        let problems = password_problems(input.password.expose_secret(), None);
        if !problems.is_empty() {
            return Err(AccountsError::Validation(problems));
        }
        let hash = self.hash(input.password).await?;
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let (user, org, _) = self
            .consume_token(&tx, Purpose::PasswordReset, &input.token)
            .await?
            .ok_or(AccountsCase::InvalidCredentials)?;
        // A reset through the mailed link proves the mailbox. If the address was never
        // verified, whoever registered it may not be its owner: their API keys and webhooks
        // go, before the owner takes the account over.
        let was_verified = users::reset_password(&tx, user, &hash).await?;
        let (keys_revoked, webhooks_removed) = if was_verified {
            (0, 0)
        } else {
            (
                api_keys::revoke_created_by(&tx, user).await?,
                store::remove_webhooks_created_by(&tx, user).await?,
            )
        };
        let revoked = Self::revoke_all_sessions(&tx, user).await?;
        let version = sessions::bump_version(&tx, user).await?;
        let event = outbox::audit(
            &tx,
            &audit_event(
                "user.password_reset",
                org,
                Some(user),
                ("user", user.to_string()),
                client,
                serde_json::json!({
                    "sessions_revoked": revoked,
                    "api_keys_revoked": keys_revoked,
                    "webhooks_removed": webhooks_removed,
                }),
            ),
        )
        .await?;
        tx.commit().await?;
        self.forget_all(user, version).await;
        self.relay.publish(&self.db, &[event]).await;
        Ok(())
    }

    /// Accepts an invitation: the invited user sets a password and becomes active (the link
    /// proves the mailbox, so the address counts as verified).
    #[tracing::instrument(skip_all)]
    pub async fn accept_invitation(
        &self,
        input: NewPasswordInput,
        client: &ClientInfo,
    ) -> Result<(), AccountsError> {
        let mut problems = password_problems(input.password.expose_secret(), None);
        bounded("first_name", &input.first_name, 100, &mut problems);
        bounded("last_name", &input.last_name, 100, &mut problems);
        if !problems.is_empty() {
            return Err(AccountsError::Validation(problems));
        }
        let hash = self.hash(input.password).await?;
        let mut conn = self.db.connect().await?;
        let tx = conn.begin().await?;
        let (user, org, _) = self
            .consume_token(&tx, Purpose::Invitation, &input.token)
            .await?
            .ok_or(AccountsCase::InvalidCredentials)?;
        let activated = users::activate_invitee(
            &tx,
            user,
            &hash,
            input.first_name.as_deref(),
            input.last_name.as_deref(),
        )
        .await;
        let updated = match activated {
            Ok(updated) => updated,
            // The address has an account in another organization (one account per address):
            // the invitee, who owns the address, may learn that.
            Err(err) if err.is_unique_violation() => {
                return Err(AccountsError::Area(AccountsCase::EmailTaken(
                    "already has a GSign account, in another organization",
                )))
            }
            Err(err) => return Err(err.into()),
        };
        if updated == 0 {
            return Err(AccountsCase::InvalidCredentials.into());
        }
        let event = outbox::audit(
            &tx,
            &audit_event(
                "member.joined",
                org,
                Some(user),
                ("user", user.to_string()),
                client,
                serde_json::json!({}),
            ),
        )
        .await?;
        tx.commit().await?;
        self.relay.publish(&self.db, &[event]).await;
        Ok(())
    }
}
