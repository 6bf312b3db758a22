//! The certificate use cases: create (keys generated in the HSM, issued under the
//! organization's CA), list, get, import a chain, set the default, revoke (and publish the CRL).
//! Private keys never leave the HSM; a row holds the public key, the certificate and its
//! chain. Every query is scoped to the caller's organization.

use gsign_core::billing::{Limit, UsageType};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use der::EncodePem;
use gsign_core::certificates::{
    may_revoke, CertificateRequest, CertificateStatus, Issuance, KeyType, LifecycleConflict,
    NewCertificate,
};
use gsign_platform::database::Session;
use gsign_platform::hsm::HsmHandle;
use gsign_platform::hsm_keys::{default_scheme, HsmKey, KeySpec};
use gsign_platform::http::Caller;
use gsign_platform::outbox;
use gsign_platform::pagination::{Page, PageRequest};
use gsign_signing::chain::check_imported_chain;
use gsign_signing::x509::{parse_pem_bundle, Profile};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CertificatesCase, CertificatesError};
use crate::service::issuing::{self, NewKeys};
use crate::service::revocation;
use crate::service::stored::{self, IssuingKey};
use crate::store::{self, Certificate, Issued, ListFilter, NewRow};
use gsign_core::certificates::{CertificatePurpose, CertificateType};

use super::CertificatesApi;

/// What clients see of a certificate.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CertificateView {
    id: Uuid,
    /// The person it belongs to; `null` for the organization's CA and seal.
    user_id: Option<Uuid>,
    /// `signing` (a person's), `ca` (the organization's CA) or `seal` (the platform seal).
    purpose: String,
    /// A name for people.
    label: String,
    /// `self_signed`, `ca_issued`, `eidas` or `corporate` (the organization's CA, its seal and
    /// what the CA issues).
    #[serde(rename = "type")]
    cert_type: String,
    /// `pending` (a CSR waiting for its chain), `active` or `revoked`.
    status: String,
    /// Whether it is its owner's default signing certificate.
    is_default: bool,
    /// Hex; `null` while pending.
    serial_number: Option<String>,
    /// The subject's distinguished name (RFC 4514).
    subject: String,
    /// The certificate's subject common name; `null` while pending.
    subject_cn: Option<String>,
    /// The issuer's common name; `null` while pending.
    issuer_cn: Option<String>,
    /// Start of validity; `null` while pending.
    valid_from: Option<DateTime<Utc>>,
    /// End of validity; `null` while pending.
    valid_to: Option<DateTime<Utc>>,
    /// `RSA` or `EC`.
    key_type: String,
    /// Key size in bits: 2048 or 3072 (RSA), 256 (EC).
    key_size: i32,
    /// `rsa-pss-sha256`, `rsa-pkcs1-sha256` or `ecdsa-sha256`.
    signature_algorithm: String,
    /// Signatures made with it.
    usage_count: i32,
    /// When it last signed.
    last_used_at: Option<DateTime<Utc>>,
    /// The certificate then its issuers, PEM.
    certificate_pem: Option<String>,
    /// The request to give an external CA, while pending.
    csr_pem: Option<String>,
    /// When it was revoked.
    revoked_at: Option<DateTime<Utc>>,
    /// The RFC 5280 reason given when revoked.
    revocation_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(crate) fn chain_pem(row: &Certificate) -> Result<Option<String>, CertificatesError> {
    let chain = stored::stored_chain(row)?;
    if chain.is_empty() {
        return Ok(None);
    }
    let mut pem = String::new();
    for certificate in chain {
        pem.push_str(
            &certificate
                .to_pem(der::pem::LineEnding::LF)
                .map_err(gsign_signing::SignError::from)?,
        );
    }
    Ok(Some(pem))
}

impl CertificateView {
    pub(crate) fn of(row: &Certificate) -> Result<Self, CertificatesError> {
        Ok(Self {
            id: row.id,
            user_id: row.user_id,
            purpose: row.purpose.as_str().to_owned(),
            label: row.label.clone(),
            cert_type: row.cert_type.as_str().to_owned(),
            status: row.status.to_string(),
            is_default: row.is_default,
            serial_number: row.serial_number.clone(),
            subject: row.subject_dn.clone(),
            subject_cn: row.subject_cn.clone(),
            issuer_cn: row.issuer_cn.clone(),
            valid_from: row.valid_from,
            valid_to: row.valid_to,
            key_type: row.key_type.as_str().to_owned(),
            key_size: row.key_size,
            signature_algorithm: row.signature_scheme.as_str().to_owned(),
            usage_count: row.usage_count,
            last_used_at: row.last_used_at,
            certificate_pem: chain_pem(row)?,
            csr_pem: row.csr_pem.clone(),
            revoked_at: row.revoked_at,
            revocation_reason: row.revocation_reason.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// `PUT /v1/certificates/{id}/chain` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CertificateChainImport")]
pub struct ChainImport {
    /// PEM: the certificate the CA issued, optionally followed by its issuers.
    certificate: String,
    /// PEM: the issuers, leaf's issuer first (if not already after the certificate).
    #[serde(default)]
    chain: Option<String>,
    /// Whether the CA issued a qualified (eIDAS) certificate.
    #[serde(default)]
    eidas: bool,
}

/// RFC 5280 CRLReason values a person may give.
const REVOCATION_REASONS: [&str; 5] = [
    "unspecified",
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
];

/// `POST /v1/certificates/{id}/revoke` body (optional: an empty body means `{}`).
#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CertificateRevocation")]
pub struct Revocation {
    /// `unspecified` (the default), `key_compromise`, `affiliation_changed`, `superseded` or
    /// `cessation_of_operation`.
    #[serde(default)]
    reason: Option<String>,
}

fn key_spec(key_type: KeyType) -> KeySpec {
    match key_type {
        KeyType::Rsa2048 => KeySpec::Rsa2048,
        KeyType::Rsa3072 => KeySpec::Rsa3072,
        KeyType::EcP256 => KeySpec::EcP256,
    }
}

/// The person acting: certificates are personal signing identities.
fn person(caller: &Caller) -> Result<Uuid, CertificatesError> {
    caller.user.ok_or(CertificatesCase::NotOwner.into())
}

/// The row of a person's new signing certificate, or of its pending CSR.
fn signing_row(
    id: Uuid,
    org: Uuid,
    user: Uuid,
    new: &NewCertificate,
    key: &HsmKey,
    issued: Option<Issued>,
    csr_pem: Option<String>,
) -> NewRow {
    let spec = key_spec(new.key_type);
    let (key_type, key_size) = issuing::stored_key(spec);
    NewRow {
        id,
        organization_id: org,
        user_id: Some(user),
        purpose: CertificatePurpose::Signing,
        label: new.label.clone(),
        cert_type: new.issuance.initial_type(),
        subject_dn: new.subject_dn.clone(),
        key_type,
        key_size,
        signature_scheme: default_scheme(spec),
        hsm_key_id: hex::encode(&key.id),
        public_key: key.spki_der.clone(),
        issued,
        csr_pem,
    }
}

/// `GET /v1/certificates`' query, checked: which page and which certificates.
#[derive(Debug, Clone)]
pub struct CertificateQuery {
    /// `limit` and `cursor`.
    pub page: PageRequest,
    /// Only certificates for this purpose.
    pub purpose: Option<CertificatePurpose>,
    /// Only certificates in this state.
    pub status: Option<CertificateStatus>,
    /// Only this member's certificates.
    pub user_id: Option<Uuid>,
}

/// The imported certificate and its issuers (after it in `certificate`, or in `chain`).
fn imported_chain(
    input: &ChainImport,
) -> Result<(x509_cert::Certificate, Vec<x509_cert::Certificate>), CertificatesError> {
    let mut bundle = parse_pem_bundle(&input.certificate)
        .map_err(|e| CertificatesError::invalid("/certificate", e.to_string()))?;
    if let Some(chain) = input.chain.as_deref().filter(|c| !c.trim().is_empty()) {
        bundle.extend(
            parse_pem_bundle(chain)
                .map_err(|e| CertificatesError::invalid("/chain", e.to_string()))?,
        );
    }
    let leaf = bundle.remove(0);
    Ok((leaf, bundle))
}

/// Refuses a chain for a certificate that is not `user`'s or that is not pending.
fn awaits_chain(row: &Certificate, user: Uuid) -> Result<(), CertificatesError> {
    if row.user_id != Some(user) {
        return Err(CertificatesCase::NotOwner.into());
    }
    if row.status != CertificateStatus::Pending {
        return Err(
            CertificatesCase::Conflict(if row.status == CertificateStatus::Revoked {
                LifecycleConflict::Revoked
            } else {
                LifecycleConflict::NotPending
            })
            .into(),
        );
    }
    Ok(())
}

impl CertificatesApi {
    #[tracing::instrument(skip_all, fields(id = %id))]
    async fn commit_audited(
        &self,
        tx: gsign_platform::database::Transaction<'_>,
        caller: &Caller,
        action: &str,
        id: Uuid,
        details: serde_json::Value,
    ) -> Result<(), CertificatesError> {
        let event = outbox::audit(&tx, &caller.audit(action, "certificate", id, details)).await?;
        tx.commit().await?;
        let base = &self.services.base;
        base.relay.publish(&base.db, &[event]).await;
        Ok(())
    }

    /// `POST /v1/certificates`: a key pair in the HSM and its certificate (from the organization's CA, self-signed, or a CSR).
    #[tracing::instrument(skip_all)]
    pub async fn create(
        &self,
        caller: &Caller,
        input: CertificateRequest,
    ) -> Result<CertificateView, CertificatesError> {
        let user = person(caller)?;
        let new = NewCertificate::parse(input).map_err(CertificatesError::Validation)?;
        if new.default && new.issuance == Issuance::Csr {
            return Err(CertificatesError::invalid(
                "/default",
                "a CSR becomes usable once its chain is imported; choose the default then",
            ));
        }
        let mut keys = NewKeys::new(self.hsm()?);
        let result = self.create_in_tx(caller, user, &new, &mut keys).await;
        match result {
            Ok(view) => {
                keys.keep();
                Ok(view)
            }
            Err(err) => {
                keys.discard().await;
                Err(err)
            }
        }
    }

    #[tracing::instrument(skip_all, fields(user = %user))]
    async fn create_in_tx(
        &self,
        caller: &Caller,
        user: Uuid,
        new: &NewCertificate,
        keys: &mut NewKeys<'_>,
    ) -> Result<CertificateView, CertificatesError> {
        let hsm = self.hsm()?;
        let mut conn = self.services.base.db.connect().await?;
        let tx = conn.begin().await?;
        // The plan's limit first: no key is made for a certificate that would be refused.
        gsign_platform::billing::check_quota(&tx, caller.org, Limit::Certificates).await??;
        let spec = key_spec(new.key_type);
        let id = Uuid::new_v4();
        let key = keys.generate(spec, format!("gsign-{id}")).await?;
        let (issued, csr_pem) = self.certify(&tx, hsm, caller.org, new, keys, &key).await?;
        let active = issued.is_some();
        let row = signing_row(id, caller.org, user, new, &key, issued, csr_pem);
        let mut row = store::insert(&tx, &row).await?;
        gsign_platform::billing::record_usage(&tx, caller.org, UsageType::Certificate, id).await?;
        // A person's first usable certificate is their default.
        if active && (new.default || !store::has_default(&tx, user).await?) {
            store::set_default(&tx, user, id).await?;
            row.is_default = true;
        }
        self.commit_audited(
            tx,
            caller,
            "certificate.created",
            id,
            serde_json::json!({
                "issuance": new.issuance,
                "key_type": new.key_type,
                "subject": new.subject_dn,
            }),
        )
        .await?;
        CertificateView::of(&row)
    }

    /// The new `key`'s certificate (from the organization's CA, or self-signed) or its CSR.
    #[tracing::instrument(skip_all)]
    async fn certify(
        &self,
        tx: &(impl Session + ?Sized),
        hsm: &HsmHandle,
        org: Uuid,
        new: &NewCertificate,
        keys: &mut NewKeys<'_>,
        key: &HsmKey,
    ) -> Result<(Option<Issued>, Option<String>), CertificatesError> {
        let scheme = default_scheme(key_spec(new.key_type));
        Ok(match new.issuance {
            Issuance::OrganizationCa => {
                let issued = self.issue_by_ca(tx, hsm, org, new, keys, key).await?;
                (Some(issued), None)
            }
            Issuance::SelfSigned => {
                let certificate = issuing::issue(
                    hsm,
                    issuing::subject(
                        new.subject_dn.clone(),
                        key.spki_der.clone(),
                        new.validity_days,
                        Profile::DocumentSigner,
                        None,
                    ),
                    IssuingKey {
                        key_id: key.id.clone(),
                        scheme,
                        certificate: None,
                    },
                )
                .await?;
                (Some(issuing::issued(&certificate, &[])?), None)
            }
            Issuance::Csr => {
                let csr =
                    issuing::certificate_request(hsm, new.subject_dn.clone(), key, scheme).await?;
                (None, Some(csr))
            }
        })
    }

    /// `key`'s certificate from the organization's CA, the CA and seal made on first use
    /// under the organization's row lock.
    #[tracing::instrument(skip_all)]
    async fn issue_by_ca(
        &self,
        tx: &(impl Session + ?Sized),
        hsm: &HsmHandle,
        org: Uuid,
        new: &NewCertificate,
        keys: &mut NewKeys<'_>,
        key: &HsmKey,
    ) -> Result<Issued, CertificatesError> {
        let org_name = store::lock_organization(tx, org)
            .await?
            .ok_or(CertificatesError::NotFound("certificate"))?;
        let pki = self.pki()?;
        let (ca, _seal) = issuing::ensure_authorities(tx, keys, pki, org, &org_name).await?;
        let crl_url = pki.crl_url(ca.id);
        let issuer = stored::issuing_key(&ca)?;
        let ca_chain: Vec<_> = issuer.certificate.clone().into_iter().collect();
        let certificate = issuing::issue(
            hsm,
            issuing::subject(
                new.subject_dn.clone(),
                key.spki_der.clone(),
                new.validity_days,
                Profile::DocumentSigner,
                Some(crl_url),
            ),
            issuer,
        )
        .await?;
        issuing::issued(&certificate, &ca_chain)
    }

    /// The organization's certificate `id`.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Certificate, CertificatesError> {
        let client = self.services.base.db.connect().await?;
        store::get(&client, caller.org, id, false)
            .await?
            .ok_or(CertificatesError::NotFound("certificate"))
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn list(
        &self,
        caller: &Caller,
        query: CertificateQuery,
    ) -> Result<Page<CertificateView>, CertificatesError> {
        let page = query.page;
        let filter = ListFilter {
            purpose: query.purpose,
            status: query.status,
            user_id: query.user_id,
            after: page.after,
        };
        let client = self.services.base.db.connect().await?;
        let mut rows = store::list(&client, caller.org, &filter, page.fetch()).await?;
        let next_cursor = page.finish(&mut rows, |c| (c.created_at, c.id));
        Ok(Page {
            data: rows
                .iter()
                .map(CertificateView::of)
                .collect::<Result<_, _>>()?,
            next_cursor,
        })
    }

    #[tracing::instrument(skip_all, fields(id = %id))]
    pub(crate) async fn import_chain(
        &self,
        caller: &Caller,
        id: Uuid,
        input: ChainImport,
    ) -> Result<CertificateView, CertificatesError> {
        let user = person(caller)?;
        let (leaf, bundle) = imported_chain(&input)?;
        let s = &self.services;
        let mut conn = s.base.db.connect().await?;
        let tx = conn.begin().await?;
        let row = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(CertificatesError::NotFound("certificate"))?;
        awaits_chain(&row, user)?;
        check_imported_chain(&leaf, &bundle, &row.public_key, SystemTime::now())
            .map_err(CertificatesCase::Chain)?;
        let cert_type = if input.eidas {
            CertificateType::Eidas
        } else {
            CertificateType::CaIssued
        };
        let issued = issuing::issued(&leaf, &bundle)?;
        let mut row = store::activate(&tx, id, cert_type, &issued).await?;
        if !store::has_default(&tx, user).await? {
            store::set_default(&tx, user, id).await?;
            row.is_default = true;
        }
        self.commit_audited(
            tx,
            caller,
            "certificate.chain_imported",
            id,
            serde_json::json!({
                "type": cert_type,
                "serial_number": issued.serial_number,
                "issuer": issued.issuer_cn,
            }),
        )
        .await?;
        CertificateView::of(&row)
    }

    /// `POST /v1/certificates/{id}/default`: the caller's default signing certificate.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn set_default(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<CertificateView, CertificatesError> {
        let user = person(caller)?;
        let mut conn = self.services.base.db.connect().await?;
        let tx = conn.begin().await?;
        let mut row = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(CertificatesError::NotFound("certificate"))?;
        if row.purpose != CertificatePurpose::Signing {
            return Err(CertificatesCase::Conflict(LifecycleConflict::Authority).into());
        }
        if row.user_id != Some(user) {
            return Err(CertificatesCase::NotOwner.into());
        }
        match row.status {
            CertificateStatus::Active => {}
            CertificateStatus::Revoked => {
                return Err(CertificatesCase::Conflict(LifecycleConflict::Revoked).into())
            }
            CertificateStatus::Pending => {
                return Err(CertificatesCase::Conflict(LifecycleConflict::NotActive).into())
            }
        }
        if row.valid_to.is_some_and(|end| end < Utc::now()) {
            return Err(CertificatesCase::Conflict(LifecycleConflict::Expired).into());
        }
        store::set_default(&tx, user, id).await?;
        row.is_default = true;
        self.commit_audited(
            tx,
            caller,
            "certificate.default_set",
            id,
            serde_json::json!({}),
        )
        .await?;
        CertificateView::of(&row)
    }

    /// `POST /v1/certificates/{id}/revoke`: revokes the certificate, destroys its HSM key and publishes its CA's CRL.
    #[tracing::instrument(skip_all, fields(id = %id))]
    pub async fn revoke(
        &self,
        caller: &Caller,
        id: Uuid,
        input: Revocation,
    ) -> Result<CertificateView, CertificatesError> {
        let reason = input.reason.unwrap_or_else(|| "unspecified".to_owned());
        if !REVOCATION_REASONS.contains(&reason.as_str()) {
            return Err(CertificatesError::invalid(
                "/reason",
                format!("must be one of {}", REVOCATION_REASONS.join(", ")),
            ));
        }
        let s = &self.services;
        let mut conn = s.base.db.connect().await?;
        let tx = conn.begin().await?;
        let row = store::get(&tx, caller.org, id, true)
            .await?
            .ok_or(CertificatesError::NotFound("certificate"))?;
        if row.purpose != CertificatePurpose::Signing {
            return Err(CertificatesCase::Conflict(LifecycleConflict::Authority).into());
        }
        if !may_revoke(caller.role, caller.user, row.user_id) {
            return Err(CertificatesCase::NotOwner.into());
        }
        if row.status == CertificateStatus::Revoked {
            return Err(CertificatesCase::Conflict(LifecycleConflict::Revoked).into());
        }
        let row = store::revoke(&tx, id, &reason).await?;
        self.commit_audited(
            tx,
            caller,
            "certificate.revoked",
            id,
            serde_json::json!({"reason": reason}),
        )
        .await?;
        // The row says revoked before the key goes: a failure here leaves an unusable key,
        // never a usable certificate without one.
        let key_id = hex::decode(&row.hsm_key_id).unwrap_or_default();
        if let Err(err) = self.hsm()?.run(move |hsm| hsm.destroy_key(&key_id)).await {
            tracing::warn!(error = %err, certificate = %id, "revoked, but the HSM key remains");
        }
        // The next CRL lists it at once; when this fails, `schedule-publish-crls` sees a
        // revocation newer than the CA's CRL and issues one within the hour.
        if let Err(err) = self.publish_revocation(&row).await {
            tracing::warn!(
                error = format!("{err:#}"),
                certificate = %id,
                "revoked; the CRL is left to the schedule"
            );
        }
        CertificateView::of(&row)
    }

    /// Issues and publishes the CRL of the organization CA that issued `row`, if one did.
    #[tracing::instrument(skip_all)]
    async fn publish_revocation(&self, row: &Certificate) -> Result<(), CertificatesError> {
        let client = self.services.base.db.connect().await?;
        if let Some(ca) = revocation::issuing_authority(&client, row).await? {
            revocation::refresh(&client, self.hsm()?, self.pki()?, &ca).await?;
        }
        Ok(())
    }
}
