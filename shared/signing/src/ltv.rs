//! Long-term validation (ETSI EN 319 142-1 5.4 and 5.5; ISO 32000-2 12.8.4): the document
//! security store (`/DSS`) that makes every signature of a document B-LT, holding every
//! certificate and revocation answer a validator needs, with a `/VRI` entry per signature,
//! written as one incremental update that changes nothing a signature covers. The document
//! timestamp over it ([`crate::pades::begin_document_timestamp`]) makes them B-LTA.

use std::collections::BTreeSet;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode, Encode};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use crate::algorithm::SignError;
use crate::cms::TIME_STAMP_TOKEN;
use crate::pades::{load_for_update, pdf_error, referenced_id, update_of, written_update};

/// One signature or document timestamp of a document.
#[derive(Debug, Clone)]
pub struct EmbeddedSignature {
    /// Its field's name.
    pub field: String,
    /// The whole `/Contents` string (what the `/VRI` key hashes).
    pub contents: Vec<u8>,
    /// A document timestamp (`ETSI.RFC3161`) rather than a signature.
    pub document_timestamp: bool,
    /// Every certificate it carries: the CMS's own and its timestamp token's.
    pub certificates: Vec<Certificate>,
}

/// What the DSS is to hold.
#[derive(Debug, Clone, Default)]
pub struct ValidationData {
    /// Certificates (leaves, intermediates, roots), each once.
    pub certificates: Vec<Certificate>,
    /// DER CRLs.
    pub crls: Vec<Vec<u8>>,
    /// DER OCSP responses.
    pub ocsps: Vec<Vec<u8>>,
}

impl ValidationData {
    /// Adds `certificate` unless it is already there.
    pub fn add_certificate(&mut self, certificate: &Certificate) {
        if !self.certificates.contains(certificate) {
            self.certificates.push(certificate.clone());
        }
    }

    /// Adds the DER CRL `crl` unless it is already there.
    pub fn add_crl(&mut self, crl: Vec<u8>) {
        if !self.crls.contains(&crl) {
            self.crls.push(crl);
        }
    }
}

fn signed_data(der: &[u8]) -> Option<SignedData> {
    ContentInfo::from_der(der)
        .ok()?
        .content
        .decode_as::<SignedData>()
        .ok()
}

fn carried_certificates(signed_data: &SignedData, into: &mut Vec<Certificate>) {
    for choice in signed_data.certificates.iter().flat_map(|set| set.0.iter()) {
        if let CertificateChoices::Certificate(c) = choice {
            if !into.contains(c) {
                into.push(c.clone());
            }
        }
    }
}

/// The DER value at the start of the zero-padded `/Contents`.
fn der_value(contents: &[u8]) -> &[u8] {
    let header = || -> Option<usize> {
        let first = *contents.get(1)?;
        if first < 0x80 {
            return Some(2 + usize::from(first));
        }
        let count = usize::from(first & 0x7f);
        let bytes = contents.get(2..2 + count)?;
        let length = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        Some(2 + count + length)
    };
    header()
        .filter(|&end| end <= contents.len())
        .map_or(contents, |end| &contents[..end])
}

/// Every signature and document timestamp of `pdf`, with the certificates each carries.
pub fn embedded_signatures(pdf: &[u8]) -> Result<Vec<EmbeddedSignature>, SignError> {
    let document = load_for_update(pdf)?;
    let mut found = Vec::new();
    for (name, field_id) in crate::acroform::signature_fields(&document) {
        let Ok(field) = document.get_dictionary(field_id) else {
            continue;
        };
        let value = match field.get(b"V") {
            Ok(Object::Reference(id)) => document.get_dictionary(*id).ok(),
            Ok(Object::Dictionary(d)) => Some(d),
            _ => None,
        };
        let Some(value) = value else { continue };
        let Ok(Object::String(contents, _)) = value.get(b"Contents") else {
            continue;
        };
        let document_timestamp =
            matches!(value.get(b"SubFilter"), Ok(Object::Name(n)) if n == b"ETSI.RFC3161");
        let mut certificates = Vec::new();
        if let Some(sd) = signed_data(der_value(contents)) {
            carried_certificates(&sd, &mut certificates);
            let tokens = sd
                .signer_infos
                .0
                .iter()
                .flat_map(|info| info.unsigned_attrs.iter().flat_map(|a| a.iter()))
                .filter(|a| a.oid == TIME_STAMP_TOKEN)
                .flat_map(|a| a.values.iter())
                .filter_map(|v| v.to_der().ok())
                .collect::<Vec<_>>();
            for token in tokens {
                if let Some(token) = signed_data(&token) {
                    carried_certificates(&token, &mut certificates);
                }
            }
        }
        found.push(EmbeddedSignature {
            field: name,
            contents: contents.clone(),
            document_timestamp,
            certificates,
        });
    }
    Ok(found)
}

/// The `/VRI` key of a signature: the upper-case hex SHA-1 of its `/Contents` (ISO 32000-2
/// 12.8.4.4).
pub fn vri_key(contents: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, contents);
    hex::encode_upper(digest.as_ref())
}

/// Whether `crl` speaks for `certificate` (issued by the CRL's issuer).
fn crl_covers(crl: &CertificateList, certificate: &Certificate) -> bool {
    crl.tbs_cert_list.issuer == certificate.tbs_certificate.issuer
}

/// The items of an array given inline or by reference (empty for anything else).
pub(crate) fn array_items(document: &Document, object: Option<&Object>) -> Vec<Object> {
    match object {
        Some(Object::Array(items)) => items.clone(),
        Some(Object::Reference(id)) => document
            .get_object(*id)
            .and_then(Object::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `pdf` with one more revision holding a `/DSS` with `data` (merged with any DSS the
/// document already has) and a `/VRI` entry for each of `signatures`. Nothing else changes:
/// the catalog gains (or keeps) its `/DSS` reference, which every signature allows.
pub fn add_dss(
    pdf: &[u8],
    signatures: &[EmbeddedSignature],
    data: &ValidationData,
) -> Result<Vec<u8>, SignError> {
    let document = load_for_update(pdf)?;
    if document.xref_recovery.is_some() {
        return Err(SignError::Invalid(
            "the PDF's cross-reference data needed repair".into(),
        ));
    }
    let catalog_id = referenced_id(document.trailer.get(b"Root").ok())
        .ok_or_else(|| SignError::Invalid("the trailer has no /Root reference".into()))?;
    let size = document
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    let catalog = document.get_dictionary(catalog_id).map_err(pdf_error)?;
    // An existing DSS is kept whole: its entries stay and the new ones follow.
    let existing: Option<Dictionary> = match catalog.get(b"DSS") {
        Ok(Object::Reference(id)) => document.get_dictionary(*id).ok().cloned(),
        Ok(Object::Dictionary(d)) => Some(d.clone()),
        _ => None,
    };
    let mut certs = array_items(
        &document,
        existing.as_ref().and_then(|d| d.get(b"Certs").ok()),
    );
    let mut crls = array_items(
        &document,
        existing.as_ref().and_then(|d| d.get(b"CRLs").ok()),
    );
    let mut ocsps = array_items(
        &document,
        existing.as_ref().and_then(|d| d.get(b"OCSPs").ok()),
    );
    let mut vri = match existing.as_ref().and_then(|d| d.get(b"VRI").ok()) {
        Some(Object::Dictionary(d)) => d.clone(),
        Some(Object::Reference(id)) => document.get_dictionary(*id).cloned().unwrap_or_default(),
        _ => Dictionary::new(),
    };
    let mut update = update_of(pdf, document, size);
    let mut stream = |bytes: Vec<u8>| -> ObjectId {
        update
            .new_document
            .add_object(Stream::new(Dictionary::new(), bytes))
    };

    let mut cert_ids = Vec::new();
    for certificate in &data.certificates {
        let id = stream(certificate.to_der()?);
        certs.push(Object::Reference(id));
        cert_ids.push((certificate, id));
    }
    let mut crl_ids = Vec::new();
    for der in &data.crls {
        let parsed = CertificateList::from_der(der)?;
        let id = stream(der.clone());
        crls.push(Object::Reference(id));
        crl_ids.push((parsed, id));
    }
    for der in &data.ocsps {
        let id = stream(der.clone());
        ocsps.push(Object::Reference(id));
    }

    for signature in signatures {
        // Its own certificates, the issuers the DSS holds for them, and their CRLs.
        let mut wanted: BTreeSet<ObjectId> = BTreeSet::new();
        let mut names: Vec<&Certificate> = signature.certificates.iter().collect();
        let mut at = 0;
        while at < names.len() {
            let certificate = names[at];
            for (candidate, id) in &cert_ids {
                let related = *candidate == certificate
                    || candidate.tbs_certificate.subject == certificate.tbs_certificate.issuer;
                if related && wanted.insert(*id) && !names.contains(candidate) {
                    names.push(candidate);
                }
            }
            at += 1;
        }
        let cert_refs: Vec<Object> = wanted.iter().map(|id| Object::Reference(*id)).collect();
        let crl_refs: Vec<Object> = crl_ids
            .iter()
            .filter(|(crl, _)| names.iter().any(|c| crl_covers(crl, c)))
            .map(|(_, id)| Object::Reference(*id))
            .collect();
        let mut entry = Dictionary::new();
        if !cert_refs.is_empty() {
            entry.set("Cert", cert_refs);
        }
        if !crl_refs.is_empty() {
            entry.set("CRL", crl_refs);
        }
        vri.set(vri_key(&signature.contents), Object::Dictionary(entry));
    }

    let mut dss = existing.unwrap_or_default();
    dss.set("Type", "DSS");
    dss.set("Certs", certs);
    dss.set("CRLs", crls);
    if !ocsps.is_empty() {
        dss.set("OCSPs", ocsps);
    }
    let vri_id = update.new_document.add_object(vri);
    dss.set("VRI", Object::Reference(vri_id));
    let dss_id = update.new_document.add_object(dss);
    update
        .opt_clone_object_to_new_document(catalog_id)
        .map_err(pdf_error)?;
    crate::pades::set(&mut update, catalog_id, "DSS", Object::Reference(dss_id))?;
    let tail = written_update(pdf.len(), &mut update, 64 * 1024)?;
    let mut out = Vec::with_capacity(pdf.len() + tail.len());
    out.extend_from_slice(pdf);
    out.extend_from_slice(&tail);
    Ok(out)
}

/// The document security store of `document`: its certificates, CRLs and OCSP answers (DER),
/// as the verifier reads them.
pub fn stored_validation_data(document: &Document) -> ValidationData {
    let mut data = ValidationData::default();
    let Some(catalog) = document
        .trailer
        .get(b"Root")
        .ok()
        .and_then(|r| r.as_reference().ok())
        .and_then(|id| document.get_dictionary(id).ok())
    else {
        return data;
    };
    let dss = match catalog.get(b"DSS") {
        Ok(Object::Reference(id)) => document.get_dictionary(*id).ok(),
        Ok(Object::Dictionary(d)) => Some(d),
        _ => None,
    };
    let Some(dss) = dss else { return data };
    let bytes = |key: &[u8]| -> Vec<Vec<u8>> {
        array_items(document, dss.get(key).ok())
            .iter()
            .filter_map(|o| o.as_reference().ok())
            .filter_map(|id| document.get_object(id).ok())
            .filter_map(|o| o.as_stream().ok())
            .filter_map(|s| {
                if s.dict.has(b"Filter") {
                    s.decompressed_content().ok()
                } else {
                    Some(s.content.clone())
                }
            })
            .collect()
    };
    for der in bytes(b"Certs") {
        if let Ok(certificate) = Certificate::from_der(&der) {
            data.add_certificate(&certificate);
        }
    }
    data.crls = bytes(b"CRLs");
    data.ocsps = bytes(b"OCSPs");
    data
}

/// When the last document timestamp of `signatures` stops proving anything: the earliest end
/// of validity among the certificates its token carries (the TSA's and its issuers'); before
/// then a fresh DSS and document timestamp must follow (archive timestamp renewal). `None`
/// when there is no document timestamp.
pub fn archive_expiry(signatures: &[EmbeddedSignature]) -> Option<std::time::SystemTime> {
    signatures
        .iter()
        .rev()
        .find(|s| s.document_timestamp)?
        .certificates
        .iter()
        .map(|c| c.tbs_certificate.validity.not_after.to_system_time())
        .min()
}

/// Whether `certificate` is self-signed by name (a root: no revocation data applies).
pub fn is_self_issued(certificate: &Certificate) -> bool {
    certificate.tbs_certificate.subject == certificate.tbs_certificate.issuer
}
