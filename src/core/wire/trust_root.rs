//! `trusted_root.json` wire types (`dev.sigstore.trustroot.v1.TrustedRoot`, protobuf-specs)
//! and the signing-config / client-trust-config envelopes (sigstore-protocol.md §2.2-2.3).

use serde::{Deserialize, Serialize};

use crate::core::wire::bundle::{LogId, X509Certificate};
use crate::core::wire::encoding::b64;

pub const TRUSTED_ROOT_MEDIA_TYPE_V0_1: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
pub const TRUSTED_ROOT_MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.trustedroot.v0.2+json";
pub const SIGNING_CONFIG_MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedRoot {
    pub media_type: String,
    #[serde(default)]
    pub tlogs: Vec<TransparencyLogInstance>,
    #[serde(default)]
    pub certificate_authorities: Vec<CertificateAuthority>,
    #[serde(default)]
    pub ctlogs: Vec<TransparencyLogInstance>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogInstance {
    pub base_url: String,
    pub hash_algorithm: String,
    pub public_key: PublicKey,
    pub log_id: LogId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_key_id: Option<LogId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    /// SPKI DER.
    #[serde(default, with = "b64", skip_serializing_if = "Vec::is_empty")]
    pub raw_bytes: Vec<u8>,
    /// e.g. `PKIX_ECDSA_P256_SHA_256`, `PKIX_ED25519`.
    pub key_details: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRange>,
}

/// `start` is required by the verifier (a missing start is rejected there); both ends are inclusive.
/// Times are RFC 3339 strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAuthority {
    #[serde(default)]
    pub subject: DistinguishedName,
    #[serde(default)]
    pub uri: String,
    pub cert_chain: CertChain,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DistinguishedName {
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub common_name: String,
}

/// Ordered leaf/intermediate first; the last certificate is the trust anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertChain {
    #[serde(default)]
    pub certificates: Vec<X509Certificate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningConfig {
    pub media_type: String,
    #[serde(default)]
    pub ca_urls: Vec<Service>,
    #[serde(default)]
    pub oidc_urls: Vec<Service>,
    #[serde(default)]
    pub rekor_tlog_urls: Vec<Service>,
    #[serde(default)]
    pub tsa_urls: Vec<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekor_tlog_config: Option<ServiceConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa_config: Option<ServiceConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub url: String,
    pub major_api_version: u32,
    pub valid_for: TimeRange,
    #[serde(default)]
    pub operator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// `ALL`, `ANY` or `EXACT`.
    pub selector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientTrustConfig {
    pub media_type: String,
    pub trusted_root: TrustedRoot,
    pub signing_config: SigningConfig,
}
