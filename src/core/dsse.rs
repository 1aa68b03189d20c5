//! DSSE: the pre-authentication encoding and the envelope's compact JSON.
//! Spec: https://github.com/secure-systems-lab/dsse/blob/master/protocol.md

use crate::core::wire::bundle::Envelope;

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// The envelope as the compact JSON string npm and sigstore-js submit to Rekor's `dsse`
/// type: `{"payload":..,"payloadType":..,"signatures":[{"sig":..}]}`, keys in that order and
/// no empty `keyid` (sigstore-rs recomputes `envelopeHash` over exactly this form).
pub fn compact_json(envelope: &Envelope) -> String {
    // Serializing a struct of strings and byte vectors cannot fail.
    serde_json::to_string(envelope).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::bundle::EnvelopeSignature;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn compact_json_has_npm_key_order_and_no_empty_keyid() {
        let env = Envelope {
            payload: b"{}".to_vec(),
            payload_type: "application/vnd.in-toto+json".into(),
            signatures: vec![EnvelopeSignature { sig: vec![1, 2], keyid: String::new() }],
        };
        assert_eq!(
            compact_json(&env),
            r#"{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AQI="}]}"#
        );
    }
}
