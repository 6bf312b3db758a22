//! Who may do what: roles, actions, API key scopes, and the one table that relates them.
//! Every route names its [`Action`] and asks [`Principal::may`]; nothing else decides.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role in an organization.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full control, including billing and other owners. At least one per organization.
    Owner,
    /// Manages members (not owners), API keys, settings and audit.
    Admin,
    /// Sends and manages documents and envelopes.
    Member,
    /// Reads only.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    /// The less powerful of two roles: what an API key acts with, given the role it was made
    /// with and its creator's role now (a demoted creator's keys are demoted too).
    pub fn lesser(self, other: Role) -> Role {
        // `Role` is ordered most powerful first.
        self.max(other)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?} (owner, admin, member, viewer)"))
    }
}

/// What an API key may be allowed to do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Scope {
    /// Read the organization and its members.
    #[serde(rename = "organization:read")]
    OrganizationRead,
    /// Change the organization and its members.
    #[serde(rename = "organization:write")]
    OrganizationWrite,
    /// Read the audit trail.
    #[serde(rename = "audit:read")]
    AuditRead,
    /// Read documents and envelopes.
    #[serde(rename = "documents:read")]
    DocumentsRead,
    /// Create and send documents and envelopes.
    #[serde(rename = "documents:write")]
    DocumentsWrite,
    /// Read signing certificates (they are public by nature).
    #[serde(rename = "certificates:read")]
    CertificatesRead,
    /// Register, change and replay webhooks.
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    /// Author, publish and retire clauses and document templates.
    #[serde(rename = "templates:manage")]
    TemplatesManage,
    /// Register, generate, rotate and revoke sealed-envelope keys.
    #[serde(rename = "keys:manage")]
    KeysManage,
    /// Open sealed envelopes and read their encrypted fields.
    #[serde(rename = "sealed:open")]
    SealedOpen,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 10] = [
        Scope::OrganizationRead,
        Scope::OrganizationWrite,
        Scope::AuditRead,
        Scope::DocumentsRead,
        Scope::DocumentsWrite,
        Scope::CertificatesRead,
        Scope::WebhooksManage,
        Scope::TemplatesManage,
        Scope::KeysManage,
        Scope::SealedOpen,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrganizationRead => "organization:read",
            Scope::OrganizationWrite => "organization:write",
            Scope::AuditRead => "audit:read",
            Scope::DocumentsRead => "documents:read",
            Scope::DocumentsWrite => "documents:write",
            Scope::CertificatesRead => "certificates:read",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::TemplatesManage => "templates:manage",
            Scope::KeysManage => "keys:manage",
            Scope::SealedOpen => "sealed:open",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}"))
    }
}

/// Everything a route may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See one's own profile.
    ReadOwnProfile,
    /// Change one's own profile or password.
    UpdateOwnProfile,
    /// See the organization.
    ReadOrganization,
    /// Change the organization's name or settings.
    UpdateOrganization,
    /// List members.
    ListMembers,
    /// Invite a member.
    InviteMember,
    /// Change a member's role.
    ChangeMemberRole,
    /// Remove a member.
    RemoveMember,
    /// List API keys.
    ListApiKeys,
    /// Create an API key.
    CreateApiKey,
    /// Revoke an API key.
    RevokeApiKey,
    /// Read the audit trail.
    ReadAuditEvents,
    /// List, read and download documents.
    ReadDocuments,
    /// Upload, rename, tag and delete documents.
    WriteDocuments,
    /// Place or release a legal hold.
    SetLegalHold,
    /// List and read the organization's certificates.
    ReadCertificates,
    /// Create one's own signing certificates, import their chains, choose the default, revoke
    /// them (owners and admins may revoke anyone's).
    ManageCertificates,
    /// Verify the signatures of a PDF.
    VerifySignatures,
    /// Register, read, change, test and replay the organization's webhooks.
    ManageWebhooks,
    /// Author, version, publish and deactivate clauses and document templates (legal's
    /// work: owners and admins).
    ManageTemplates,
    /// Register, generate, rotate and revoke the keys of sealed envelopes.
    ManageCryptoKeys,
    /// Open sealed envelopes and read their encrypted fields (the receiver's part).
    OpenSealedEnvelopes,
    /// Read the organization's mail suppression list.
    ReadMailSuppressions,
    /// Add addresses to the organization's mail suppression list, or take them off.
    ManageMailSuppressions,
}

impl Action {
    /// The single table: which roles may do this.
    pub fn allowed_roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::ReadOwnProfile | Action::UpdateOwnProfile => &[Owner, Admin, Member, Viewer],
            Action::ReadOrganization | Action::ListMembers => &[Owner, Admin, Member, Viewer],
            Action::UpdateOrganization
            | Action::InviteMember
            | Action::ChangeMemberRole
            | Action::RemoveMember
            | Action::ListApiKeys
            | Action::CreateApiKey
            | Action::RevokeApiKey
            | Action::ReadAuditEvents
            | Action::SetLegalHold
            | Action::ManageWebhooks
            | Action::ManageTemplates
            | Action::ManageCryptoKeys
            | Action::OpenSealedEnvelopes
            | Action::ReadMailSuppressions
            | Action::ManageMailSuppressions => &[Owner, Admin],
            Action::ReadDocuments | Action::ReadCertificates | Action::VerifySignatures => {
                &[Owner, Admin, Member, Viewer]
            }
            Action::WriteDocuments | Action::ManageCertificates => &[Owner, Admin, Member],
        }
    }

    /// The scope an API key needs for this action; `None`: only people may do it (API keys
    /// cannot manage API keys or act on a person's profile).
    pub fn required_scope(self) -> Option<Scope> {
        match self {
            Action::ReadOwnProfile
            | Action::UpdateOwnProfile
            | Action::ListApiKeys
            | Action::CreateApiKey
            | Action::RevokeApiKey
            | Action::ManageCertificates => None,
            Action::ReadOrganization | Action::ListMembers | Action::ReadMailSuppressions => {
                Some(Scope::OrganizationRead)
            }
            Action::UpdateOrganization
            | Action::InviteMember
            | Action::ChangeMemberRole
            | Action::RemoveMember
            | Action::ManageMailSuppressions => Some(Scope::OrganizationWrite),
            Action::ReadAuditEvents => Some(Scope::AuditRead),
            Action::ReadDocuments | Action::VerifySignatures => Some(Scope::DocumentsRead),
            Action::ReadCertificates => Some(Scope::CertificatesRead),
            Action::WriteDocuments | Action::SetLegalHold => Some(Scope::DocumentsWrite),
            Action::ManageWebhooks => Some(Scope::WebhooksManage),
            Action::ManageTemplates => Some(Scope::TemplatesManage),
            Action::ManageCryptoKeys => Some(Scope::KeysManage),
            Action::OpenSealedEnvelopes => Some(Scope::SealedOpen),
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credential {
    /// A person with an access token of session `session_id`.
    Session {
        /// The user.
        user_id: String,
        /// The session family (stable across refresh rotations).
        session_id: String,
    },
    /// An API key.
    ApiKey {
        /// The key's id.
        key_id: String,
        /// What the key may do.
        scopes: Vec<Scope>,
    },
}

/// The authenticated caller, as the authorizer passes it to every route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Principal {
    /// The caller's organization: every query is scoped to it.
    pub organization_id: String,
    /// The role the caller acts with (an API key acts with its creator's role at creation).
    pub role: Role,
    /// How the caller authenticated.
    pub credential: Credential,
}

impl Principal {
    /// Whether the caller may perform `action`: its role allows it and, for an API key, the
    /// key holds the action's scope.
    pub fn may(&self, action: Action) -> bool {
        if !action.allowed_roles().contains(&self.role) {
            return false;
        }
        match &self.credential {
            Credential::Session { .. } => true,
            Credential::ApiKey { scopes, .. } => action
                .required_scope()
                .is_some_and(|needed| scopes.contains(&needed)),
        }
    }
}

/// Whether `actor` may give `target` to someone, or take it away: only owners touch owners.
pub fn may_assign(actor: Role, target: Role) -> bool {
    match actor {
        Role::Owner => true,
        Role::Admin => target != Role::Owner,
        Role::Member | Role::Viewer => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: Role) -> Principal {
        Principal {
            organization_id: "org".to_owned(),
            role,
            credential: Credential::Session {
                user_id: "u".to_owned(),
                session_id: "s".to_owned(),
            },
        }
    }

    #[test]
    fn viewers_read_but_never_change_the_organization() {
        let viewer = person(Role::Viewer);
        assert!(viewer.may(Action::ReadOrganization));
        assert!(!viewer.may(Action::UpdateOrganization));
        assert!(!viewer.may(Action::InviteMember));
    }

    #[test]
    fn only_owners_and_admins_manage_members_keys_and_audit() {
        for action in [
            Action::InviteMember,
            Action::RemoveMember,
            Action::CreateApiKey,
            Action::ReadAuditEvents,
        ] {
            let allowed: Vec<Role> = Role::ALL
                .into_iter()
                .filter(|r| person(*r).may(action))
                .collect();
            assert_eq!(allowed, [Role::Owner, Role::Admin], "{action:?}");
        }
    }

    #[test]
    fn api_keys_are_narrowed_by_their_scopes_and_never_manage_keys() {
        let key = Principal {
            organization_id: "org".to_owned(),
            role: Role::Owner,
            credential: Credential::ApiKey {
                key_id: "k".to_owned(),
                scopes: vec![Scope::OrganizationRead],
            },
        };
        assert!(key.may(Action::ListMembers));
        assert!(
            !key.may(Action::InviteMember),
            "no organization:write scope"
        );
        assert!(!key.may(Action::CreateApiKey), "keys never mint keys");
        assert!(!key.may(Action::ReadOwnProfile), "a key has no profile");
    }

    #[test]
    fn viewers_read_documents_members_write_them_and_only_admins_hold_them() {
        let roles = |action| -> Vec<Role> {
            Role::ALL
                .into_iter()
                .filter(|r| person(*r).may(action))
                .collect()
        };
        assert_eq!(roles(Action::ReadDocuments), Role::ALL);
        assert_eq!(
            roles(Action::WriteDocuments),
            [Role::Owner, Role::Admin, Role::Member]
        );
        assert_eq!(roles(Action::SetLegalHold), [Role::Owner, Role::Admin]);
    }

    #[test]
    fn a_key_acts_with_the_lesser_of_its_role_and_its_creators_role_now() {
        assert_eq!(Role::Owner.lesser(Role::Viewer), Role::Viewer);
        assert_eq!(Role::Viewer.lesser(Role::Owner), Role::Viewer);
        assert_eq!(Role::Admin.lesser(Role::Member), Role::Member);
        assert_eq!(Role::Admin.lesser(Role::Admin), Role::Admin);
    }

    #[test]
    fn only_owners_grant_or_revoke_ownership() {
        assert!(may_assign(Role::Owner, Role::Owner));
        assert!(!may_assign(Role::Admin, Role::Owner));
        assert!(may_assign(Role::Admin, Role::Member));
        assert!(!may_assign(Role::Member, Role::Viewer));
    }

    #[test]
    fn roles_and_scopes_round_trip_through_their_stored_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(
                serde_json::to_value(scope).expect("serialises"),
                scope.as_str()
            );
        }
        assert!("root".parse::<Role>().is_err());
    }
}
