//! The `users` table: members, owners and invitees of an organization, their passwords'
//! hashes, sign-in counters and profile.

use chrono::{DateTime, Utc};
use gsign_core::Role;
use gsign_platform::database::{DbError, Row, Session};
use gsign_platform::params;
use serde::Serialize;
use uuid::Uuid;

/// A member of the organization (or an invitee).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MemberView {
    /// The user's id.
    pub id: Uuid,
    /// Email address.
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Role in the organization.
    pub role: Role,
    /// `invited` until the invitation is accepted; `disabled` once removed.
    #[schemars(with = "crate::store::schemas::MemberStatus")]
    pub status: String,
    /// When the address was confirmed (`null`: never).
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Last successful sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
    /// When the account or invitation was created.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&Row> for MemberView {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get("id")?,
            email: row.get("email")?,
            first_name: row.get("first_name")?,
            last_name: row.get("last_name")?,
            role: row.stored("role")?,
            status: row.get("status")?,
            email_verified_at: row.get("email_verified_at")?,
            last_login_at: row.get("last_login_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

const MEMBER_COLUMNS: &str =
    "id, email, first_name, last_name, role, status, email_verified_at, last_login_at, created_at";

fn member(row: Row) -> Result<MemberView, DbError> {
    MemberView::try_from(&row)
}

/// The profile as returned.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Profile {
    /// The user's id.
    id: Uuid,
    /// Email address.
    email: String,
    /// First name.
    first_name: Option<String>,
    /// Last name.
    last_name: Option<String>,
    /// Role in the organization.
    role: Role,
    /// Account status.
    #[schemars(with = "crate::store::schemas::MemberStatus")]
    status: String,
    /// When the address was confirmed (`null`: never).
    email_verified_at: Option<DateTime<Utc>>,
    /// Last successful sign-in.
    last_login_at: Option<DateTime<Utc>>,
    /// When the account was created.
    created_at: DateTime<Utc>,
    /// The user's organization.
    organization: OrganizationSummary,
}

/// The caller's organization, in brief.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OrganizationSummary {
    /// The organization's id.
    id: Uuid,
    /// Its name.
    name: String,
    /// Its unique slug.
    slug: String,
}

impl TryFrom<&Row> for Profile {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get("id")?,
            email: row.get("email")?,
            first_name: row.get("first_name")?,
            last_name: row.get("last_name")?,
            role: row.stored("role")?,
            status: row.get("status")?,
            email_verified_at: row.get("email_verified_at")?,
            last_login_at: row.get("last_login_at")?,
            created_at: row.get("created_at")?,
            organization: OrganizationSummary {
                id: row.get("organization_id")?,
                name: row.get("organization_name")?,
                slug: row.get("organization_slug")?,
            },
        })
    }
}

/// The profile of `user` in organization `org`.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn profile(
    client: &(impl Session + ?Sized),
    user: Uuid,
    org: Uuid,
) -> Result<Option<Profile>, DbError> {
    client
        .fetch_optional(
            "SELECT u.id, u.email, u.first_name, u.last_name, u.role, u.status,
                    u.email_verified_at, u.last_login_at, u.created_at,
                    o.id AS organization_id, o.name AS organization_name,
                    o.slug AS organization_slug
               FROM users u JOIN organizations o ON o.id = u.organization_id
              WHERE u.id = :user AND u.organization_id = :org",
            params!(user, org),
        )
        .await?
        .as_ref()
        .map(Profile::try_from)
        .transpose()
}

/// A new organization's owner.
pub struct NewOwner<'a> {
    /// The organization.
    pub org: Uuid,
    /// Email address, as normalised.
    pub email: &'a str,
    /// The password's argon2id hash.
    pub password_hash: &'a str,
    /// First name.
    pub first_name: Option<&'a str>,
    /// Last name.
    pub last_name: Option<&'a str>,
}

/// Creates the owner; their id. An address with an account already is a unique violation
/// (see `DbError::is_unique_violation`).
#[tracing::instrument(skip_all, fields(org = %new.org))]
pub async fn insert_owner(
    client: &(impl Session + ?Sized),
    new: &NewOwner<'_>,
) -> Result<Uuid, DbError> {
    client
        .fetch_one(
            "INSERT INTO users (organization_id, email, password_hash, first_name, last_name, role)
             VALUES (:org, :email, :password_hash, :first_name, :last_name, 'owner') RETURNING id",
            params!(
                org = new.org,
                email = new.email,
                password_hash = new.password_hash,
                first_name = new.first_name,
                last_name = new.last_name,
            ),
        )
        .await?
        .get("id")
}

/// Whom to write to about an account: its id, organization, first name and address (as the
/// account has it, whatever case it was typed in).
#[derive(Debug, Clone)]
pub struct Contact {
    /// The user.
    pub id: Uuid,
    /// Their organization.
    pub org: Uuid,
    /// First name.
    pub first_name: Option<String>,
    /// Email address.
    pub email: String,
}

impl TryFrom<&Row> for Contact {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get("id")?,
            org: row.get("organization_id")?,
            first_name: row.get("first_name")?,
            email: row.get("email")?,
        })
    }
}

/// The account (not an invitation) with address `email`, in any case, whatever its status.
#[tracing::instrument(skip_all)]
pub async fn account_with_address(
    client: &(impl Session + ?Sized),
    email: &str,
) -> Result<Option<Contact>, DbError> {
    client
        .fetch_optional(
            "SELECT u.id, u.organization_id, u.first_name, u.email FROM users u
              WHERE lower(u.email) = lower(:email) AND u.status <> 'invited'",
            params!(email),
        )
        .await?
        .as_ref()
        .map(Contact::try_from)
        .transpose()
}

/// The active account with address `email`, in any case.
#[tracing::instrument(skip_all)]
pub async fn active_with_address(
    client: &(impl Session + ?Sized),
    email: &str,
) -> Result<Option<Contact>, DbError> {
    client
        .fetch_optional(
            "SELECT u.id, u.organization_id, u.first_name, u.email FROM users u
              WHERE lower(u.email) = lower(:email) AND u.status = 'active'",
            params!(email),
        )
        .await?
        .as_ref()
        .map(Contact::try_from)
        .transpose()
}

/// Whether an account (not an invitation) anywhere has address `email`.
#[tracing::instrument(skip_all)]
pub async fn address_has_account(
    client: &(impl Session + ?Sized),
    email: &str,
) -> Result<bool, DbError> {
    client
        .fetch_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(:email) \
             AND status <> 'invited') AS elsewhere",
            params!(email),
        )
        .await?
        .get("elsewhere")
}

/// What a sign-in needs to know about the account of an address.
#[derive(Debug, Clone)]
pub struct SignInAccount {
    /// Who, how to write to them, and their organization.
    pub contact: Contact,
    /// The password's hash (`None`: never set).
    pub password_hash: Option<String>,
    /// Role.
    pub role: Role,
    /// The user and the organization are both active.
    pub active: bool,
    /// The address is confirmed.
    pub verified: bool,
    /// The organization's name, for mails.
    pub organization_name: String,
    /// Locked after too many wrong passwords.
    pub locked: bool,
}

/// The account (not an invitation) with address `email`, in any case, as a sign-in sees it.
#[tracing::instrument(skip_all)]
pub async fn for_sign_in(
    client: &(impl Session + ?Sized),
    email: &str,
) -> Result<Option<SignInAccount>, DbError> {
    let Some(row) = client
        .fetch_optional(
            "SELECT u.id, u.organization_id, u.password_hash, u.role,
                    u.status = 'active' AND o.status = 'active' AS active,
                    u.email_verified_at IS NOT NULL AS verified, u.email, u.first_name,
                    o.name AS organization_name,
                    COALESCE(u.login_locked_until > now(), false) AS locked
               FROM users u JOIN organizations o ON o.id = u.organization_id
              WHERE lower(u.email) = lower(:email) AND u.status <> 'invited'",
            params!(email),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(SignInAccount {
        contact: Contact::try_from(&row)?,
        password_hash: row.get("password_hash")?,
        role: row.stored("role")?,
        active: row.get("active")?,
        verified: row.get("verified")?,
        organization_name: row.get("organization_name")?,
        locked: row.get("locked")?,
    }))
}

/// Counts a wrong password of `user` atomically: the `max_failures`-th in a row resets the
/// count and locks the account for the next of `lockouts_seconds` (the last one repeats).
/// Whether this one locked it.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn count_failed_sign_in(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    max_failures: i32,
    lockouts_seconds: &[f64],
) -> Result<bool, DbError> {
    tx.fetch_one(
        // The lockout lengths go as a JSON array (no array parameters on the Data API); the
        // n-th lockout takes the n-th, the last one after.
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
            max = max_failures,
            lockouts = serde_json::json!(lockouts_seconds),
        ),
    )
    .await?
    .get("locked_now")
}

/// Records a successful sign-in of `user`: the failure counts start again and the time is kept.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn record_sign_in(tx: &(impl Session + ?Sized), user: Uuid) -> Result<(), DbError> {
    tx.run(
        "UPDATE users SET failed_logins = 0, login_lockouts = 0, last_login_at = now() \
         WHERE id = :user",
        params!(user),
    )
    .await?;
    Ok(())
}

/// Locks `user`'s row until the transaction ends (serialises concurrent sign-ins).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn lock(tx: &(impl Session + ?Sized), user: Uuid) -> Result<(), DbError> {
    tx.run(
        "SELECT 1 FROM users WHERE id = :user FOR UPDATE",
        params!(user),
    )
    .await?;
    Ok(())
}

/// Marks `user`'s address confirmed (once: the first time stays).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn mark_email_verified(tx: &(impl Session + ?Sized), user: Uuid) -> Result<(), DbError> {
    tx.run(
        "UPDATE users SET email_verified_at = now() WHERE id = :user AND email_verified_at IS NULL",
        params!(user),
    )
    .await?;
    Ok(())
}

/// Sets `user`'s password from a mailed reset link: the address counts as confirmed and any
/// lockout ends. Whether the address was confirmed before.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn reset_password(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    hash: &str,
) -> Result<bool, DbError> {
    tx.fetch_one(
        "UPDATE users u SET password_hash = :hash, email_verified_at = COALESCE(u.email_verified_at, now()),
                failed_logins = 0, login_lockouts = 0, login_locked_until = NULL
           FROM users old WHERE u.id = :user AND old.id = u.id
         RETURNING old.email_verified_at IS NOT NULL AS was_verified",
        params!(user, hash),
    )
    .await?
    .get("was_verified")
}

/// Makes the invitee `user` an active member with a password (the link proved the mailbox);
/// the rows changed (0: not an invitee). An address with an account elsewhere is a unique
/// violation.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn activate_invitee(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    hash: &str,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<u64, DbError> {
    tx.run(
        "UPDATE users SET password_hash = :hash, status = 'active', email_verified_at = now(),
                first_name = COALESCE(:first_name::text, first_name),
                last_name = COALESCE(:last_name::text, last_name)
          WHERE id = :user AND status = 'invited'",
        params!(user, hash, first_name, last_name),
    )
    .await
}

/// `user`'s address and password hash, the row locked, if they are in organization `org`.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn lock_credentials(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    org: Uuid,
) -> Result<Option<(String, Option<String>)>, DbError> {
    tx.fetch_optional(
        "SELECT email, password_hash FROM users WHERE id = :user AND organization_id = :org \
         FOR UPDATE",
        params!(user, org),
    )
    .await?
    .map(|row| Ok((row.get("email")?, row.get("password_hash")?)))
    .transpose()
}

/// Sets `user`'s password hash.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn set_password(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    hash: &str,
) -> Result<(), DbError> {
    tx.run(
        "UPDATE users SET password_hash = :hash WHERE id = :user",
        params!(user, hash),
    )
    .await?;
    Ok(())
}

/// Sets the names given (`None` keeps what is there); the member after.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn rename(
    tx: &(impl Session + ?Sized),
    user: Uuid,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<MemberView, DbError> {
    member(
        tx.fetch_one(
            &format!(
                "UPDATE users SET first_name = COALESCE(:first_name::text, first_name),
                        last_name = COALESCE(:last_name::text, last_name)
                  WHERE id = :user RETURNING {MEMBER_COLUMNS}"
            ),
            params!(user, first_name, last_name),
        )
        .await?,
    )
}

/// Up to `limit` of the organization's members and invitees after `after` (created, id), in
/// the order they joined.
#[tracing::instrument(skip_all, fields(org = %org))]
pub async fn members(
    client: &(impl Session + ?Sized),
    org: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MemberView>, DbError> {
    let (after_time, after_id) = after.unzip();
    client
        .fetch_all(
            &format!(
                "SELECT {MEMBER_COLUMNS} FROM users
                  WHERE organization_id = :org
                    AND (:after_time::timestamptz IS NULL
                         OR (created_at, id) > (:after_time::timestamptz, :after_id::uuid))
                  ORDER BY created_at, id LIMIT :limit"
            ),
            params!(org, after_time, after_id, limit),
        )
        .await?
        .iter()
        .map(MemberView::try_from)
        .collect()
}

/// An invitation to make.
pub struct NewInvitee<'a> {
    /// The organization.
    pub org: Uuid,
    /// Email address, as normalised.
    pub email: &'a str,
    /// The role they get.
    pub role: Role,
    /// First name.
    pub first_name: Option<&'a str>,
    /// Last name.
    pub last_name: Option<&'a str>,
}

/// Invites the removed (disabled) member of `new.org` with `new.email` again, under the same
/// id (their evidence and audit trail stay theirs), with the role given and the names given
/// (kept when absent); their old password is cleared, so only accepting the invitation lets
/// them in again. `None` when the organization has no removed member with that address.
#[tracing::instrument(skip_all, fields(org = %new.org))]
pub async fn reinvite_removed(
    tx: &(impl Session + ?Sized),
    new: &NewInvitee<'_>,
) -> Result<Option<MemberView>, DbError> {
    tx.fetch_optional(
        &format!(
            "UPDATE users SET status = 'invited', role = :role, password_hash = NULL,
                    first_name = COALESCE(:first_name::text, first_name),
                    last_name = COALESCE(:last_name::text, last_name)
              WHERE organization_id = :org AND lower(email) = lower(:email)
                AND status = 'disabled'
             RETURNING {MEMBER_COLUMNS}"
        ),
        params!(
            org = new.org,
            email = new.email,
            role = new.role.as_str(),
            first_name = new.first_name,
            last_name = new.last_name,
        ),
    )
    .await?
    .map(member)
    .transpose()
}

/// Creates the invitee. An address already a member or invited in the organization is a
/// unique violation.
#[tracing::instrument(skip_all, fields(org = %new.org))]
pub async fn insert_invitee(
    tx: &(impl Session + ?Sized),
    new: &NewInvitee<'_>,
) -> Result<MemberView, DbError> {
    member(
        tx.fetch_one(
            &format!(
                "INSERT INTO users (organization_id, email, role, status, first_name, last_name)
                 VALUES (:org, :email, :role, 'invited', :first_name, :last_name) \
                 RETURNING {MEMBER_COLUMNS}"
            ),
            params!(
                org = new.org,
                email = new.email,
                role = new.role.as_str(),
                first_name = new.first_name,
                last_name = new.last_name,
            ),
        )
        .await?,
    )
}

/// How `user` is named in mails: their full name, or their address when they gave none.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn display_name(
    client: &(impl Session + ?Sized),
    user: Uuid,
) -> Result<Option<String>, DbError> {
    client
        .fetch_optional(
            "SELECT COALESCE(NULLIF(btrim(concat_ws(' ', first_name, last_name)), ''), email) \
             AS name FROM users WHERE id = :user",
            params!(user),
        )
        .await?
        .map(|r| r.get("name"))
        .transpose()
}

/// Locks member `id` of organization `org`, then the organization's active owners (the order
/// every owner change takes, so they serialise); the member's role and the owners' count.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn lock_member_and_owners(
    tx: &(impl Session + ?Sized),
    org: Uuid,
    id: Uuid,
) -> Result<Option<(Role, i64)>, DbError> {
    let Some(row) = tx
        .fetch_optional(
            "SELECT role FROM users WHERE id = :id AND organization_id = :org FOR UPDATE",
            params!(id, org),
        )
        .await?
    else {
        return Ok(None);
    };
    let role = row.stored("role")?;
    let owners: i64 = tx
        .fetch_one(
            "SELECT count(*) AS owners FROM (SELECT id FROM users WHERE organization_id = :org \
             AND role = 'owner' AND status = 'active' FOR UPDATE) o",
            params!(org),
        )
        .await?
        .get("owners")?;
    Ok(Some((role, owners)))
}

/// Gives member `id` role `role`; the member after.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn set_role(
    tx: &(impl Session + ?Sized),
    id: Uuid,
    role: Role,
) -> Result<MemberView, DbError> {
    member(
        tx.fetch_one(
            &format!("UPDATE users SET role = :role WHERE id = :id RETURNING {MEMBER_COLUMNS}"),
            params!(id, role = role.as_str()),
        )
        .await?,
    )
}

/// Deletes `id` if it is an invitation (its tokens go with it); whether it was.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete_invitee(tx: &(impl Session + ?Sized), id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .run(
            "DELETE FROM users WHERE id = :id AND status = 'invited'",
            params!(id),
        )
        .await?
        > 0)
}

/// Disables member `id` (kept, so evidence and audit trails point at a real account).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn disable(tx: &(impl Session + ?Sized), id: Uuid) -> Result<(), DbError> {
    tx.run(
        "UPDATE users SET status = 'disabled' WHERE id = :id",
        params!(id),
    )
    .await?;
    Ok(())
}
