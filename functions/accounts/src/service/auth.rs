//! Sign-up and sessions: `POST /v1/auth/register`, `/login`, `/refresh`, `/logout`.
//!
//! Every state change writes its audit event (and email) to the outbox in the same
//! transaction; the rows are published right after commit and swept up later if that fails.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gsign_core::accounts::{password_problems, slugify, EmailAddress};
use gsign_core::{Credential, Env, FieldError, Principal};
use gsign_platform::cache::Cache;
use gsign_platform::credentials::{self, AccessTokens};
use gsign_platform::database::{Database, Row, Session, Transaction};
use gsign_platform::outbox::{self, AuditEvent, Email, Relay};
use gsign_platform::params;
use gsign_platform::ratelimit::RateLimiter;
use gsign_platform::sessions;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AccountsCase, AccountsError};
use crate::service::{Common, CommonConfig};

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

impl ClientInfo {
    /// From the API Gateway request context.
    pub fn of(req: &Request) -> Self {
        match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => Self {
                ip: ctx.http.source_ip.clone(),
                user_agent: ctx.http.user_agent.clone(),
            },
            _ => Self::default(),
        }
    }
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
struct SessionOwner<'a> {
    user: Uuid,
    org: Uuid,
    role: &'a str,
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
        let Some(email) = email.filter(|_| errors.is_empty()) else {
            return Err(AccountsError::Validation(errors));
        };
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
        let org: Uuid = tx
            .fetch_one(
                "INSERT INTO organizations (name, slug) VALUES (:name, :slug) RETURNING id",
                params!(name, slug),
            )
            .await?
            .get("id")?;
        let user = tx
            .fetch_one(
                "INSERT INTO users (organization_id, email, password_hash, first_name, last_name, role)
                 VALUES (:org, :email, :password_hash, :first_name, :last_name, 'owner') RETURNING id",
                params!(
                    org,
                    email = email.as_str(),
                    password_hash,
                    first_name = input.first_name,
                    last_name = input.last_name,
                ),
            )
            .await;
        let user: Uuid = match user {
            Ok(row) => row.get("id")?,
            Err(err) if err.is_unique_violation() => {
                drop(tx);
                self.mail_existing_account(&email, client).await?;
                return Ok(answer);
            }
            Err(err) => return Err(err.into()),
        };
        let events = vec![
            outbox::audit(
                &tx,
                &audit_event(
                    "user.registered",
                    org,
                    Some(user),
                    ("user", user.to_string()),
                    client,
                    serde_json::json!({"organization_slug": slug}),
                ),
            )
            .await?,
            self.verification_mail(
                &tx,
                (user, org),
                email.as_str(),
                input.first_name.as_deref(),
                &name,
            )
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
        let Some(row) = tx
            .fetch_optional(
                "SELECT u.id, u.organization_id, u.first_name, u.email FROM users u
                  WHERE lower(u.email) = lower(:email) AND u.status <> 'invited'",
                params!(email = email.as_str()),
            )
            .await?
        else {
            return Ok(());
        };
        // To the address as the account has it, whatever case the caller typed.
        let (user, org, first_name, to): (Uuid, Uuid, Option<String>, String) = (
            row.get("id")?,
            row.get("organization_id")?,
            row.get("first_name")?,
            row.get("email")?,
        );
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
        owner: &SessionOwner<'_>,
        family: Uuid,
        expires_at: DateTime<Utc>,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountsError> {
        let SessionOwner { user, org, role } = *owner;
        let refresh = credentials::new_token();
        let ip: Option<std::net::IpAddr> = client.ip.as_deref().and_then(|ip| ip.parse().ok());
        tx.run(
            "INSERT INTO user_sessions (user_id, organization_id, family_id, refresh_token_hash, expires_at, ip_address, user_agent)
             VALUES (:user, :org, :family, :hash, :expires_at, :ip::inet, :user_agent)",
            params!(
                user,
                org,
                family,
                hash = refresh.hash,
                expires_at,
                ip = ip.map(|ip| ip.to_string()),
                user_agent = client.user_agent,
            ),
        )
        .await?;
        let tokens = self.tokens.as_ref().ok_or_else(|| {
            AccountsError::Internal(anyhow::anyhow!(
                "this route does not mint access tokens (no ACCESS_TOKEN_KEY)"
            ))
        })?;
        let access_token = tokens
            .issue(
                &user.to_string(),
                &org.to_string(),
                role,
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
            // Guessing one account's password is limited per address, whatever the IP.
            let decision = self
                .limiter
                .check_identifier("login", email.as_str())
                .await
                .map_err(|_| AccountsCase::LimiterUnavailable)?;
            if !decision.allowed {
                return Err(AccountsCase::RateLimited(decision).into());
            }
        }
        let mut client_db = self.db.connect().await?;
        let found = match &email {
            Some(email) => {
                client_db
                    .fetch_optional(
                        "SELECT u.id, u.organization_id, u.password_hash, u.role,
                                u.status = 'active' AND o.status = 'active' AS active,
                                u.email_verified_at IS NOT NULL AS verified, u.email, u.first_name,
                                o.name AS organization_name,
                                COALESCE(u.login_locked_until > now(), false) AS locked
                           FROM users u JOIN organizations o ON o.id = u.organization_id
                          WHERE lower(u.email) = lower(:email) AND u.status <> 'invited'",
                        params!(email = email.as_str()),
                    )
                    .await?
            }
            None => None,
        };
        let hash = match found
            .as_ref()
            .map(|row| row.get::<Option<String>>("password_hash"))
            .transpose()?
            .flatten()
        {
            Some(hash) => hash,
            None => self.decoy().await?,
        };
        let password_ok = self.verify(input.password, hash).await?;
        let Some(row) = found else {
            return Err(AccountsCase::InvalidCredentials.into());
        };
        let (user, org, role, active): (Uuid, Uuid, String, bool) = (
            row.get("id")?,
            row.get("organization_id")?,
            row.get("role")?,
            row.get("active")?,
        );
        let locked: bool = row.get("locked")?;
        let tx = client_db.begin().await?;
        if !(password_ok && active) || locked {
            let reason = if locked {
                "account_locked"
            } else if password_ok {
                "account_inactive"
            } else {
                // Counted atomically; the tenth in a row locks the account, longer each time.
                let locked_now: bool = tx
                    .fetch_one(
                        // The lockout lengths go as a JSON array (no array parameters on the
                        // Data API); the n-th lockout takes the n-th, the last one after.
                        "UPDATE users SET
                           failed_logins = CASE WHEN failed_logins + 1 >= :max THEN 0 ELSE failed_logins + 1 END,
                           login_lockouts = login_lockouts + (failed_logins + 1 >= :max)::int,
                           login_locked_until = CASE WHEN failed_logins + 1 >= :max
                             THEN now() + make_interval(secs => (:lockouts::jsonb
                               ->> (LEAST(login_lockouts + 1, jsonb_array_length(:lockouts::jsonb)) - 1))::float8)
                             ELSE login_locked_until END
                         WHERE id = :user RETURNING failed_logins = 0 AS locked_now",
                        params!(
                            user,
                            max = MAX_LOGIN_FAILURES,
                            lockouts = serde_json::json!(LOGIN_LOCKOUTS_SECONDS),
                        ),
                    )
                    .await?
                    .get("locked_now")?;
                if locked_now {
                    "wrong_password_locked"
                } else {
                    "wrong_password"
                }
            };
            let event = outbox::audit(
                &tx,
                &audit_event(
                    "auth.login_failed",
                    org,
                    Some(user),
                    ("user", user.to_string()),
                    client,
                    serde_json::json!({"reason": reason}),
                ),
            )
            .await?;
            tx.commit().await?;
            self.relay.publish(&self.db, &[event]).await;
            return Err(AccountsCase::InvalidCredentials.into());
        }
        if !row.get::<bool>("verified")? {
            // Only the owner of the password learns this, and gets a fresh link.
            let mail_sent = self.resend_verification(tx, &row, client).await?;
            return Err(AccountsCase::EmailNotVerified { mail_sent }.into());
        }
        tx.run(
            "UPDATE users SET failed_logins = 0, login_lockouts = 0 \
             WHERE id = :user AND (failed_logins > 0 OR login_lockouts > 0)",
            params!(user),
        )
        .await?;
        let family = Uuid::new_v4();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.refresh_ttl).map_err(anyhow::Error::from)?;
        let owner = SessionOwner {
            user,
            org,
            role: &role,
        };
        let pair = self
            .start_session(&tx, &owner, family, expires_at, client)
            .await?;
        tx.run(
            "UPDATE users SET last_login_at = now() WHERE id = :user",
            params!(user),
        )
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

    /// Mails a new verification link for the account of a login `row` (id, organization,
    /// …, email, first name, organization name) unless one went out in the last
    /// [`RESEND_VERIFICATION_AFTER_MINUTES`]; whether it did.
    #[tracing::instrument(skip_all)]
    async fn resend_verification(
        &self,
        tx: Transaction<'_>,
        row: &Row,
        client: &ClientInfo,
    ) -> Result<bool, AccountsError> {
        let (user, org): (Uuid, Uuid) = (row.get("id")?, row.get("organization_id")?);
        // Serialises concurrent sign-ins of the same account.
        tx.run(
            "SELECT 1 FROM users WHERE id = :user FOR UPDATE",
            params!(user),
        )
        .await?;
        let recent: bool = tx
            .fetch_one(
                "SELECT EXISTS (SELECT 1 FROM account_tokens WHERE user_id = :user AND purpose = 'verify_email'
                                   AND created_at > now() - make_interval(mins => :minutes::int)) AS recent",
                params!(user, minutes = RESEND_VERIFICATION_AFTER_MINUTES),
            )
            .await?
            .get("recent")?;
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
                &row.get::<String>("email")?,
                row.get::<Option<String>>("first_name")?.as_deref(),
                &row.get::<String>("organization_name")?,
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
        tx.run(
            "INSERT INTO account_tokens (purpose, user_id, organization_id, token_hash, expires_at)
             VALUES ('verify_email', :user, :org, :hash, now() + interval '24 hours')",
            params!(user, org, hash = verification.hash),
        )
        .await?;
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
        let Some(row) = tx
            .fetch_optional(
                "SELECT s.id, s.user_id, s.organization_id, s.family_id, s.rotated_at IS NOT NULL AS reused,
                        s.revoked_at IS NULL AND s.expires_at > now() AS live, s.expires_at, u.role,
                        u.status = 'active' AS active
                   FROM user_sessions s JOIN users u ON u.id = s.user_id
                  WHERE s.refresh_token_hash = :hash
                  FOR UPDATE OF s",
                params!(hash),
            )
            .await?
        else {
            return Err(AccountsCase::InvalidCredentials.into());
        };
        let (id, user, org, family): (Uuid, Uuid, Uuid, Uuid) = (
            row.get("id")?,
            row.get("user_id")?,
            row.get("organization_id")?,
            row.get("family_id")?,
        );
        let (reused, live, expires_at, role, active): (bool, bool, DateTime<Utc>, String, bool) = (
            row.get("reused")?,
            row.get("live")?,
            row.get("expires_at")?,
            row.get("role")?,
            row.get("active")?,
        );
        if reused {
            tx.run(
                "UPDATE user_sessions SET revoked_at = now() WHERE family_id = :family AND revoked_at IS NULL",
                params!(family),
            )
            .await?;
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
        tx.run(
            "UPDATE user_sessions SET rotated_at = now() WHERE id = :id",
            params!(id),
        )
        .await?;
        // The family keeps its absolute expiry: refreshing never extends a session forever.
        let owner = SessionOwner {
            user,
            org,
            role: &role,
        };
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
        let Credential::Session {
            user_id,
            session_id,
        } = &principal.credential
        else {
            return Err(AccountsError::Forbidden(
                gsign_core::Action::UpdateOwnProfile,
            ));
        };
        let (Ok(user), Ok(family), Ok(org)) = (
            user_id.parse::<Uuid>(),
            session_id.parse::<Uuid>(),
            principal.organization_id.parse::<Uuid>(),
        ) else {
            return Err(AccountsError::Unauthenticated);
        };
        let mut client_db = self.db.connect().await?;
        let tx = client_db.begin().await?;
        let revoked = if input.everywhere {
            Self::revoke_all_sessions(&tx, user).await?
        } else {
            tx.run(
                "UPDATE user_sessions SET revoked_at = now()
                  WHERE family_id = :family AND user_id = :user AND organization_id = :org
                    AND revoked_at IS NULL",
                params!(family, user, org),
            )
            .await?
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
            None => {
                if let Err(err) = sessions::forget(&self.cache, user, family).await {
                    // Postgres is the truth; a cached entry can outlive it only while Redis
                    // is unreachable, and never beyond the access token's 15 minutes.
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "logout could not clear the session cache"
                    );
                }
            }
        }
        self.relay.publish(&self.db, &[event]).await;
        Ok(())
    }
    /// Consumes a single-use token of `purpose`: returns (token id, user, organization, email)
    /// and marks it used, or `None` if unknown, used or expired.
    #[tracing::instrument(skip_all)]
    async fn consume_token(
        &self,
        tx: &Transaction<'_>,
        purpose: &str,
        token: &SecretString,
    ) -> Result<Option<(Uuid, Uuid, String)>, AccountsError> {
        let hash = credentials::sha256_hex(token.expose_secret());
        let row = tx
            .fetch_optional(
                "UPDATE account_tokens t SET used_at = now()
                   FROM users u
                  WHERE t.token_hash = :hash AND t.purpose = :purpose AND t.used_at IS NULL
                    AND t.expires_at > now() AND u.id = t.user_id
              RETURNING t.user_id, t.organization_id, u.email",
                params!(hash, purpose),
            )
            .await?;
        row.map(|r| -> Result<_, AccountsError> {
            Ok((
                r.get("user_id")?,
                r.get("organization_id")?,
                r.get("email")?,
            ))
        })
        .transpose()
    }

    /// Revokes every session of `user` in Postgres; the caller clears Redis after commit.
    #[tracing::instrument(skip_all, fields(user = %user))]
    async fn revoke_all_sessions(tx: &Transaction<'_>, user: Uuid) -> Result<u64, AccountsError> {
        Ok(tx
            .run(
                "UPDATE user_sessions SET revoked_at = now() WHERE user_id = :user AND revoked_at IS NULL",
                params!(user),
            )
            .await?)
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
            .consume_token(&tx, "verify_email", &input.token)
            .await?
            .ok_or(AccountsCase::InvalidCredentials)?;
        tx.run(
            "UPDATE users SET email_verified_at = now() WHERE id = :user AND email_verified_at IS NULL",
            params!(user),
        )
        .await?;
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
        let Some(row) = tx
            .fetch_optional(
                "SELECT u.id, u.organization_id, u.email FROM users u
                  WHERE lower(u.email) = lower(:email) AND u.status = 'active'",
                params!(email = email.as_str()),
            )
            .await?
        else {
            return Ok(());
        };
        let (user, org, to): (Uuid, Uuid, String) = (
            row.get("id")?,
            row.get("organization_id")?,
            row.get("email")?,
        );
        let token = credentials::new_token();
        tx.run(
            "INSERT INTO account_tokens (purpose, user_id, organization_id, token_hash, expires_at)
             VALUES ('password_reset', :user, :org, :hash, now() + interval '1 hour')",
            params!(user, org, hash = token.hash),
        )
        .await?;
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
            .consume_token(&tx, "password_reset", &input.token)
            .await?
            .ok_or(AccountsCase::InvalidCredentials)?;
        // A reset through the mailed link proves the mailbox. If the address was never
        // verified, whoever registered it may not be its owner: their API keys and webhooks
        // go, before the owner takes the account over.
        let was_verified: bool = tx
            .fetch_one(
                "UPDATE users u SET password_hash = :hash, email_verified_at = COALESCE(u.email_verified_at, now()),
                        failed_logins = 0, login_lockouts = 0, login_locked_until = NULL
                   FROM users old WHERE u.id = :user AND old.id = u.id
                 RETURNING old.email_verified_at IS NOT NULL AS was_verified",
                params!(user, hash),
            )
            .await?
            .get("was_verified")?;
        let (keys_revoked, webhooks_removed) = if was_verified {
            (0, 0)
        } else {
            (
                tx.run(
                    "UPDATE api_keys SET revoked_at = now() WHERE created_by = :user AND revoked_at IS NULL",
                    params!(user),
                )
                .await?,
                tx.run(
                    "UPDATE webhook_endpoints SET deleted_at = now(), active = false,
                            disabled_reason = 'account taken over by the address owner', disabled_at = now()
                      WHERE created_by = :user AND deleted_at IS NULL",
                    params!(user),
                )
                .await?,
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
            .consume_token(&tx, "invitation", &input.token)
            .await?
            .ok_or(AccountsCase::InvalidCredentials)?;
        let updated = match tx
            .run(
                "UPDATE users SET password_hash = :hash, status = 'active', email_verified_at = now(),
                        first_name = COALESCE(:first_name::text, first_name),
                        last_name = COALESCE(:last_name::text, last_name)
                  WHERE id = :user AND status = 'invited'",
                params!(
                    user,
                    hash,
                    first_name = input.first_name,
                    last_name = input.last_name,
                ),
            )
            .await
        {
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
