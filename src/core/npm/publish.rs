//! The npm publish request, as libnpmpublish builds it (npm-provenance.md §5), the
//! trusted-publishing audience (npm-provenance.md §6), and how a registry's refusal is read.

use serde_json::{json, Map, Value};

use crate::core::wire::encoding::b64_encode;

/// Everything the PUT document is made of. `manifest` is the package.json object.
#[derive(Debug, Clone)]
pub struct PublishInput<'a> {
    pub manifest: &'a Map<String, Value>,
    pub name: &'a str,
    pub version: &'a str,
    pub tarball: &'a [u8],
    /// `sha512-<base64>`.
    pub integrity: &'a str,
    /// Lowercase hex SHA-1 of the tarball.
    pub shasum: &'a str,
    /// The registry base URL, e.g. `https://registry.npmjs.org/`.
    pub registry: &'a str,
    pub tag: &'a str,
    /// `public`, `restricted`, or `None` (npm sends `null` unless `--access` is given).
    pub access: Option<&'a str>,
    /// The bundle JSON exactly as uploaded, with its media type.
    pub provenance: Option<(&'a str, &'a str)>,
}

/// `tarball` URL as libnpmpublish writes it: `<registry>/<name>/-/<name>-<version>.tgz` with
/// `https:` rewritten to `http:` (the registry replaces it).
pub fn tarball_url(registry: &str, name: &str, version: &str) -> String {
    let base = registry.trim_end_matches('/');
    let base = match base.strip_prefix("https://") {
        Some(rest) => format!("http://{rest}"),
        None => base.to_owned(),
    };
    format!("{base}/{name}/-/{name}-{version}.tgz")
}

/// Builds the PUT body (npm-provenance.md §5.3): `_id`, `name`, `description`, `dist-tags`,
/// `versions`, `access`, `_attachments` (tarball, and the `.sigstore` bundle when present).
pub fn build_document(input: &PublishInput<'_>) -> Value {
    let mut version_manifest = input.manifest.clone();
    version_manifest.insert("_id".into(), Value::String(format!("{}@{}", input.name, input.version)));
    let mut dist = match version_manifest.remove("dist") {
        Some(Value::Object(existing)) => existing,
        _ => Map::new(),
    };
    dist.insert("integrity".into(), Value::String(input.integrity.to_owned()));
    dist.insert("shasum".into(), Value::String(input.shasum.to_owned()));
    dist.insert("tarball".into(), Value::String(tarball_url(input.registry, input.name, input.version)));
    version_manifest.insert("dist".into(), Value::Object(dist));

    let mut attachments = Map::new();
    attachments.insert(
        format!("{}-{}.tgz", input.name, input.version),
        json!({
            "content_type": "application/octet-stream",
            "data": b64_encode(input.tarball),
            "length": input.tarball.len(),
        }),
    );
    if let Some((bundle_json, media_type)) = input.provenance {
        attachments.insert(
            format!("{}-{}.sigstore", input.name, input.version),
            json!({
                "content_type": media_type,
                // The raw bundle JSON string, not base64 (npm-provenance.md §5.3).
                "data": bundle_json,
                "length": bundle_json.encode_utf16().count(),
            }),
        );
    }

    let mut doc = Map::new();
    doc.insert("_id".into(), Value::String(input.name.to_owned()));
    doc.insert("name".into(), Value::String(input.name.to_owned()));
    if let Some(description) = input.manifest.get("description") {
        doc.insert("description".into(), description.clone());
    }
    doc.insert("dist-tags".into(), json!({ input.tag: input.version }));
    doc.insert("versions".into(), json!({ input.version: Value::Object(version_manifest) }));
    doc.insert("access".into(), input.access.map_or(Value::Null, |a| Value::String(a.to_owned())));
    doc.insert("_attachments".into(), Value::Object(attachments));
    Value::Object(doc)
}

/// The OIDC audience the registry expects for trusted publishing (npm-provenance.md §6 step 2).
pub fn trusted_publishing_audience(registry: &str) -> Option<String> {
    let url = url::Url::parse(registry).ok()?;
    Some(format!("npm:{}", url.host_str()?))
}

/// The registry's own words from an error body: npm registries answer `{"error": ...}`,
/// `{"message": ...}` or `{"reason": ...}`; other bodies are used as text.
pub fn registry_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let message = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => ["error", "message", "reason", "detail"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_str).filter(|m| !m.trim().is_empty()))
            .map(str::to_owned),
        _ => None,
    }
    .unwrap_or_else(|| text.chars().take(300).collect());
    Some(message.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Why a publish PUT failed, from the status, `www-authenticate` and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishRefusal {
    /// A one-time password is required (401 with `www-authenticate: OTP`, or the message says so).
    OtpRequired,
    /// The version (or the package name) is taken (403/409 "cannot publish over").
    VersionExists,
    /// 401/403: the token is missing, wrong or lacks permission.
    Unauthorized,
    /// 404 on PUT: npm's answer for a token that cannot publish the package (or its scope).
    NotFound,
    /// 422: the provenance bundle was refused.
    ProvenanceRejected,
    /// Anything else.
    Other,
}

pub fn classify_refusal(status: u16, www_authenticate: Option<&str>, message: &str) -> PublishRefusal {
    let lower = message.to_ascii_lowercase();
    let otp_header = www_authenticate.is_some_and(|h| h.split(',').any(|p| p.trim().eq_ignore_ascii_case("otp")));
    if (status == 401 || status == 403) && (otp_header || lower.contains("one-time password")) {
        return PublishRefusal::OtpRequired;
    }
    if (status == 403 || status == 409)
        && (lower.contains("previously published")
            || lower.contains("cannot publish over")
            || lower.contains("already present")
            || lower.contains("already exists"))
    {
        return PublishRefusal::VersionExists;
    }
    match status {
        401 | 403 => PublishRefusal::Unauthorized,
        404 => PublishRefusal::NotFound,
        422 => PublishRefusal::ProvenanceRejected,
        _ => PublishRefusal::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_npm_shape_with_both_attachments() {
        let manifest: Map<String, Value> =
            serde_json::from_str(r#"{"name":"@acme/x","version":"1.0.0","description":"d","main":"index.js"}"#)
                .unwrap();
        let doc = build_document(&PublishInput {
            manifest: &manifest,
            name: "@acme/x",
            version: "1.0.0",
            tarball: b"tgz",
            integrity: "sha512-abc",
            shasum: "00",
            registry: "https://registry.npmjs.org/",
            tag: "latest",
            access: None,
            provenance: Some(("{\"mediaType\":\"m\"}", "m")),
        });
        let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["_id", "name", "description", "dist-tags", "versions", "access", "_attachments"]);
        assert_eq!(doc["access"], Value::Null);
        assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
        let v = &doc["versions"]["1.0.0"];
        assert_eq!(v["_id"], "@acme/x@1.0.0");
        assert_eq!(v["dist"]["tarball"], "http://registry.npmjs.org/@acme/x/-/@acme/x-1.0.0.tgz");
        assert_eq!(doc["_attachments"]["@acme/x-1.0.0.tgz"]["data"], "dGd6");
        assert_eq!(doc["_attachments"]["@acme/x-1.0.0.tgz"]["length"], 3);
        assert_eq!(doc["_attachments"]["@acme/x-1.0.0.sigstore"]["data"], "{\"mediaType\":\"m\"}");
        assert_eq!(doc["_attachments"]["@acme/x-1.0.0.sigstore"]["content_type"], "m");
    }

    #[test]
    fn registry_refusals_are_told_apart() {
        assert_eq!(
            registry_message(br#"{"error":"You cannot publish over the previously published versions: 1.0.0."}"#)
                .as_deref(),
            Some("You cannot publish over the previously published versions: 1.0.0.")
        );
        assert_eq!(
            registry_message(br#"{"message":"OIDC token exchange error - unauthorized"}"#).as_deref(),
            Some("OIDC token exchange error - unauthorized")
        );
        assert_eq!(registry_message(b"Bad\n gateway").as_deref(), Some("Bad gateway"));
        assert_eq!(registry_message(b""), None);
        assert_eq!(classify_refusal(401, Some("OTP"), "x"), PublishRefusal::OtpRequired);
        assert_eq!(classify_refusal(401, Some("Bearer, otp"), "x"), PublishRefusal::OtpRequired);
        assert_eq!(
            classify_refusal(403, None, "You cannot publish over the previously published versions: 1.0.0."),
            PublishRefusal::VersionExists
        );
        assert_eq!(classify_refusal(409, None, "this package is already present"), PublishRefusal::VersionExists);
        assert_eq!(classify_refusal(401, None, "Unable to authenticate"), PublishRefusal::Unauthorized);
        assert_eq!(classify_refusal(404, None, "Not found"), PublishRefusal::NotFound);
        assert_eq!(
            classify_refusal(422, None, "Error verifying sigstore provenance bundle"),
            PublishRefusal::ProvenanceRejected
        );
        assert_eq!(classify_refusal(400, None, "bad"), PublishRefusal::Other);
        assert_eq!(trusted_publishing_audience("http://127.0.0.1:4873/").as_deref(), Some("npm:127.0.0.1"));
        assert_eq!(
            trusted_publishing_audience("https://registry.npmjs.org/").as_deref(),
            Some("npm:registry.npmjs.org")
        );
    }
}
