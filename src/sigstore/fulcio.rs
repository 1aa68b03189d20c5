//! The Fulcio v2 client: `POST /api/v2/signingCert` with a proof of possession
//! (sigstore-protocol.md §3), and the check that the certificate is for our key.

use serde_json::{json, Value};

use crate::core::crypto::pem_rfc7468_decode;
use crate::core::jwt::decode_unverified;
use crate::core::wire::encoding::b64_encode;
use crate::error::{fail, Classify as _, ExitKind};
use crate::http::{join, Http};
use crate::secret::SecretString;
use crate::sigstore::key::EphemeralKey;

/// The leaf certificate Fulcio issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafCertificate {
    pub pem: String,
    pub der: Vec<u8>,
}

/// `POST {fulcio}/api/v2/signingCert` with a proof of possession over the token's challenge
/// subject (npm-provenance.md §7.3); returns the leaf, checked to certify our key.
pub async fn request_certificate(
    http: &Http,
    fulcio: &str,
    token: &SecretString,
    key: &EphemeralKey,
) -> anyhow::Result<LeafCertificate> {
    let jwt = decode_unverified(token.expose()).classify(ExitKind::BadInput, "the identity token is unusable")?;
    // §7.3 step 2: the verified `email`, else `sub`.
    let subject = jwt.challenge_subject().ok_or_else(|| {
        fail(
            ExitKind::BadInput,
            "the identity token has no `sub` claim (or an unverified `email`) to prove possession over",
        )
    })?;
    // §7.3 step 3: ECDSA-P256-SHA256, DER, over the subject's UTF-8 bytes.
    let proof = key.sign(subject.as_bytes());
    let body = json!({
        "credentials": {"oidcIdentityToken": token.expose()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key_pem()?},
            "proofOfPossession": b64_encode(&proof),
        }
    });
    let response = http.post_json("Fulcio", &join(fulcio, "/api/v2/signingCert"), &body, &[]).await?;
    let value = response.json("Fulcio")?;
    leaf_from_chain(&value, &key.public_key_der()?)
}

/// [`leaf_from_chain`] over the raw answer bytes (for the fuzz target).
pub(crate) fn leaf_from_answer(answer: &[u8], our_spki_der: &[u8]) -> anyhow::Result<Vec<u8>> {
    let value: Value = serde_json::from_slice(answer).classify(ExitKind::Remote, "Fulcio's answer is not JSON")?;
    leaf_from_chain(&value, our_spki_der).map(|leaf| leaf.der)
}

/// The leaf of Fulcio's answer, which must certify our key.
fn leaf_from_chain(value: &Value, our_spki_der: &[u8]) -> anyhow::Result<LeafCertificate> {
    // §7.3 step 5: the embedded-SCT chain, else the detached one; leaf first.
    let chain = value
        .pointer("/signedCertificateEmbeddedSct/chain/certificates")
        .or_else(|| value.pointer("/signedCertificateDetachedSct/chain/certificates"))
        .and_then(Value::as_array)
        .ok_or_else(|| fail(ExitKind::Remote, "Fulcio answered without a certificate chain"))?;
    let pem = chain
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| fail(ExitKind::Remote, "Fulcio answered with an empty certificate chain"))?;
    let (label, der) = pem_rfc7468_decode(pem).classify(ExitKind::Remote, "Fulcio's leaf certificate is not PEM")?;
    if label != "CERTIFICATE" {
        return Err(fail(ExitKind::Remote, format!("Fulcio's leaf is a PEM {label:?}, not a CERTIFICATE")));
    }
    check_certifies_key(&der, our_spki_der)?;
    Ok(LeafCertificate { pem: normalize_pem(pem), der })
}

/// The PEM text exactly as Fulcio sent it, with a trailing newline ensured.
fn normalize_pem(pem: &str) -> String {
    let mut text = pem.trim_end().to_owned();
    text.push('\n');
    text
}

/// Refuses a certificate for some other key than ours.
fn check_certifies_key(cert_der: &[u8], our_spki_der: &[u8]) -> anyhow::Result<()> {
    use der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(cert_der)
        .classify(ExitKind::Remote, "Fulcio's leaf certificate is not X.509")?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .classify(ExitKind::Remote, "Fulcio's leaf certificate has a malformed public key")?;
    if spki != our_spki_der {
        return Err(fail(ExitKind::Remote, "Fulcio issued a certificate for a different public key than ours"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::encoding::b64_decode;

    #[test]
    fn a_certificate_for_another_key_is_refused() {
        let der = crate::core::crypto::pem_rfc7468_decode(&fixture_leaf_pem()).unwrap().1;
        let key = EphemeralKey::generate().unwrap();
        let err = check_certifies_key(&der, &key.public_key_der().unwrap()).unwrap_err();
        assert!(err.to_string().contains("different public key"), "{err}");
    }

    fn fixture_leaf_pem() -> String {
        let bundle: Value = serde_json::from_str(include_str!(
            "../../tests/data/npm-provenance/playwright-cli-0.1.1-provenance.sigstore.json"
        ))
        .unwrap();
        let der = b64_decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
        crate::core::crypto::pem_encode("CERTIFICATE", &der)
    }
}
