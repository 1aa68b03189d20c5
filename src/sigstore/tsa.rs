//! The RFC 3161 client: a timestamp over the signature from a timestamp authority, checked
//! before it goes into a bundle (sigstore-protocol.md §2.1, §4.2 "TSA request"): the answer
//! must be granted, over the SHA-256 of exactly our signature, echo our nonce, and, when the
//! trusted root is known, verify and chain to one of its `timestampAuthorities`.

use reqwest::Method;
use sha2::{Digest as _, Sha256};

use crate::core::verify::tsa::verify_timestamp;
use crate::core::wire::timestamp::{nonce_bytes, read_response, request_der};
use crate::core::wire::trust_root::CertificateAuthority;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::{status_error, Http, Request};

/// A DER TimeStampResp is a few kilobytes; anything larger is refused.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// `POST url` with a DER `TimeStampReq` over SHA-256(`signature`); returns the checked DER
/// `TimeStampResp` (what `rfc3161Timestamps[].signedTimestamp` holds). 5xx answers are
/// retried under the client's policy.
pub async fn request_timestamp(
    http: &Http,
    url: &str,
    signature: &[u8],
    trusted: Option<&[CertificateAuthority]>,
) -> anyhow::Result<Vec<u8>> {
    let imprint = Sha256::digest(signature);
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce)
        .map_err(|e| fail(ExitKind::Environment, format!("cannot read the system random source: {e}")))?;
    // Positive and at most 63 bits, as sigstore-python's nonces.
    let nonce = u64::from_be_bytes(nonce) >> 1;
    let body = request_der(&imprint, nonce)
        .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the timestamp request: {e}")))?;
    let headers = [
        ("content-type", "application/timestamp-query".to_owned()),
        ("accept", "application/timestamp-reply".to_owned()),
    ];
    let request = Request { method: Method::POST, url, headers: &headers, bearer: None, body: Some(body) };
    let response = http.request("the timestamp authority", request, MAX_RESPONSE_BYTES).await?;
    if !response.status.is_success() {
        return Err(status_error("the timestamp authority", &response));
    }
    check_response(&response.body, &imprint, nonce, signature, trusted)?;
    Ok(response.body)
}

/// The checks of the module header, on a response body.
fn check_response(
    der: &[u8],
    imprint: &[u8],
    nonce: u64,
    signature: &[u8],
    trusted: Option<&[CertificateAuthority]>,
) -> anyhow::Result<()> {
    let refused = |what: String| {
        fail_with_hint(
            ExitKind::Remote,
            format!("the timestamp authority's answer is unusable: {what}"),
            "check the TSA URL (--tsa-url or the signing config's tsaUrls)",
        )
    };
    let fields = read_response(der).map_err(|e| refused(e.to_string()))?;
    // RFC 3161 §2.4.2: the imprint must be the one we sent.
    if fields.imprint_algorithm != "2.16.840.1.101.3.4.2.1" || fields.imprint != imprint {
        return Err(refused("the timestamp is over another message (message imprint mismatch)".into()));
    }
    // RFC 3161 §2.4.2: a request with a nonce must get the same nonce back (replay protection).
    if fields.nonce.as_deref() != Some(nonce_bytes(nonce).as_slice()) {
        return Err(refused("the timestamp does not carry our nonce (a replayed or foreign answer)".into()));
    }
    if let Some(authorities) = trusted {
        verify_timestamp(der, signature, authorities)
            .map_err(|e| refused(format!("{e} (against the trusted root's timestamp authorities)")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::UnixTime;
    use crate::standin::tsa::TimestampAuthority;

    fn authority(seed: u8) -> TimestampAuthority {
        let root = p384::ecdsa::SigningKey::from_slice(&[seed; 48]).unwrap();
        let leaf = p256::ecdsa::SigningKey::from_slice(&[seed + 1; 32]).unwrap();
        TimestampAuthority::new(&root, leaf, UnixTime(1_700_000_000), ([seed; 20], [seed + 2; 20])).unwrap()
    }

    fn trusted(tsa: &TimestampAuthority) -> Vec<CertificateAuthority> {
        vec![tsa.trusted_entry("http://127.0.0.1/api/v1/timestamp".into(), "2023-01-01T00:00:00Z")]
    }

    #[test]
    fn answers_over_another_message_or_with_another_nonce_are_refused() {
        let tsa = authority(3);
        let signature = b"our signature";
        let imprint = Sha256::digest(signature);
        let now = UnixTime(1_750_000_000);
        let message = |e: anyhow::Error| crate::error::render(&e);

        let foreign = tsa.respond(&request_der(&Sha256::digest(b"another"), 7).unwrap(), now, [1; 20]).unwrap();
        let err = check_response(&foreign, &imprint, 7, signature, None).unwrap_err();
        assert!(message(err).contains("message imprint mismatch"));

        let replayed = tsa.respond(&request_der(&imprint, 8).unwrap(), now, [1; 20]).unwrap();
        let err = check_response(&replayed, &imprint, 7, signature, None).unwrap_err();
        assert!(message(err).contains("nonce"));

        check_response(&replayed, &imprint, 8, signature, Some(&trusted(&tsa))).unwrap();
        // A well-formed answer from a TSA the trusted root does not list.
        let err = check_response(&replayed, &imprint, 8, signature, Some(&trusted(&authority(9)))).unwrap_err();
        assert!(message(err).contains("timestamp authorities"));
        assert!(check_response(b"\x30\x00", &imprint, 8, signature, None).is_err());
    }
}
