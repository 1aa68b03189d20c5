//! The npm publish request, as libnpmpublish builds it (npm-provenance.md §5), and the pure
//! parts of publishing: `.npmrc` parsing, registry/token selection, and the preflight rules the
//! public registry enforces on provenance (npm-provenance.md §4).

use serde_json::{json, Map, Value};

use crate::core::encoding::b64_encode;

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

/// A source repository as `https://<host>/<owner>/<repo>` (lowercase host, no `.git`), from
/// package.json's `repository` (a string or `{url}`), accepting the forms npm users write:
/// `git+https://github.com/o/r.git`, `https://github.com/o/r`, `github:o/r`, `o/r`,
/// `git@github.com:o/r.git`, `ssh://git@github.com/o/r.git`, `git://github.com/o/r.git`,
/// `gitlab:group/project`.
pub fn normalize_repository(repository: &Value) -> Option<String> {
    let raw = match repository {
        Value::String(s) => s.as_str(),
        Value::Object(m) => m.get("url")?.as_str()?,
        _ => return None,
    };
    normalize_repository_url(raw)
}

pub fn normalize_repository_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (host, path) = if let Some(rest) = raw.strip_prefix("github:") {
        ("github.com".to_owned(), rest.to_owned())
    } else if let Some(rest) = raw.strip_prefix("gitlab:") {
        ("gitlab.com".to_owned(), rest.to_owned())
    } else if let Some(rest) = raw.strip_prefix("bitbucket:") {
        ("bitbucket.org".to_owned(), rest.to_owned())
    } else if let Some((_, rest)) = raw.split_once("://") {
        // git+https://, https://, ssh://git@host/, git://, git+ssh://
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        let host = host.split(':').next().unwrap_or(host);
        (host.to_owned(), path.to_owned())
    } else if let Some((user_host, path)) = raw.split_once(':') {
        // scp-like: git@github.com:o/r.git
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        if host.is_empty() || host.contains('/') {
            return None;
        }
        (host.to_owned(), path.to_owned())
    } else if raw.matches('/').count() == 1 && !raw.starts_with('.') && !raw.starts_with('/') {
        // `owner/repo` shorthand means GitHub.
        ("github.com".to_owned(), raw.to_owned())
    } else {
        return None;
    };
    let path = path.split(['#', '?']).next().unwrap_or("");
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    // An owner and a repository at least (GitLab groups nest deeper); no empty segments.
    if host.is_empty() || path.split('/').count() < 2 || path.split('/').any(str::is_empty) {
        return None;
    }
    Some(format!("https://{}/{}", host.to_ascii_lowercase(), path))
}

/// Source repositories compare case-insensitively (GitHub owner and repository names are).
pub fn same_repository(a: &str, b: &str) -> bool {
    a.trim_end_matches('/').eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// A parsed `.npmrc`: `key=value` lines, `;`/`#` comments, `${VAR}` substitution as npm does
/// (an unset variable is an error in npm; here it expands to nothing and is reported).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Npmrc {
    entries: Vec<(String, String)>,
    /// Variables referenced but unset.
    pub unset_variables: Vec<String>,
}

impl Npmrc {
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut rc = Npmrc::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let key = rc.substitute(key.trim(), env);
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            let value = rc.substitute(value, env);
            rc.entries.push((key, value));
        }
        rc
    }

    fn substitute(&mut self, text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let escaped = start > 0 && rest.as_bytes()[start - 1] == b'\\';
            let Some(end) = rest[start..].find('}') else { break };
            let name = &rest[start + 2..start + end];
            if escaped {
                out.push_str(&rest[..start - 1]);
                out.push_str(&rest[start..start + end + 1]);
            } else {
                out.push_str(&rest[..start]);
                match env(name) {
                    Some(v) => out.push_str(&v),
                    None => self.unset_variables.push(name.to_owned()),
                }
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The last value set for `key` (later lines win, as in npm's ini parsing).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Layers `other` over `self` (e.g. project `.npmrc` over user `.npmrc`).
    pub fn overlay(mut self, other: Npmrc) -> Npmrc {
        self.entries.extend(other.entries);
        self.unset_variables.extend(other.unset_variables);
        self
    }

    /// The registry for a package: `@scope:registry`, else `registry`.
    pub fn registry_for(&self, package_name: &str) -> Option<&str> {
        if let Some(scope) = package_name.strip_prefix('@').and_then(|n| n.split('/').next()) {
            if let Some(r) = self.get(&format!("@{scope}:registry")) {
                return Some(r);
            }
        }
        self.get("registry")
    }

    /// `_authToken` for a registry URL: the longest matching nerf-dart key
    /// (`//host[:port]/path/:_authToken`), walking up the path as npm does.
    pub fn auth_token_for(&self, registry: &str) -> Option<&str> {
        let mut dart = nerf_dart(registry)?;
        loop {
            if let Some(token) = self.get(&format!("{dart}:_authToken")) {
                return Some(token);
            }
            // Drop the last path segment: //host/a/b/ -> //host/a/.
            let trimmed = dart.trim_end_matches('/');
            let cut = trimmed.rfind('/')?;
            if cut <= 1 {
                return None;
            }
            dart = format!("{}/", &trimmed[..cut]);
        }
    }
}

/// npm's "nerf dart" of a registry URL: `//host[:port]/path/` (scheme, auth, query dropped).
pub fn nerf_dart(registry: &str) -> Option<String> {
    let url = url::Url::parse(registry).ok()?;
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path();
    let path = if path.ends_with('/') { path.to_owned() } else { format!("{path}/") };
    Some(format!("//{host}{port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_forms_normalize_to_one_url() {
        let want = Some("https://github.com/npm-attest/demo".to_owned());
        for form in [
            "git+https://github.com/npm-attest/demo.git",
            "https://github.com/npm-attest/demo",
            "https://GitHub.com/npm-attest/demo/",
            "github:npm-attest/demo",
            "npm-attest/demo",
            "git@github.com:npm-attest/demo.git",
            "ssh://git@github.com/npm-attest/demo.git",
            "git+ssh://git@github.com/npm-attest/demo.git",
            "git://github.com/npm-attest/demo.git",
            "https://github.com/npm-attest/demo.git#main",
        ] {
            assert_eq!(normalize_repository_url(form), want, "{form}");
        }
        assert_eq!(normalize_repository(&json!({"type": "git", "url": "github:a/b"})), Some("https://github.com/a/b".into()));
        for bad in ["", "demo", "https://github.com", "./local/path", "/abs/path", "file:", "https://github.com//x"] {
            assert_eq!(normalize_repository_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn npmrc_substitutes_env_and_picks_the_token_by_nerf_dart() {
        let env = |k: &str| (k == "NODE_AUTH_TOKEN").then(|| "tok-123".to_owned());
        let rc = Npmrc::parse(
            "; comment\nregistry=https://registry.example/npm/\n@acme:registry=https://acme.example/\n//registry.example/npm/:_authToken=${NODE_AUTH_TOKEN}\n//acme.example/:_authToken=${MISSING}\n",
            &env,
        );
        assert_eq!(rc.registry_for("left-pad"), Some("https://registry.example/npm/"));
        assert_eq!(rc.registry_for("@acme/x"), Some("https://acme.example/"));
        assert_eq!(rc.auth_token_for("https://registry.example/npm/"), Some("tok-123"));
        assert_eq!(rc.auth_token_for("https://registry.example/npm/sub/"), Some("tok-123"));
        assert_eq!(rc.auth_token_for("https://other.example/"), None);
        assert_eq!(rc.auth_token_for("https://acme.example/"), Some(""));
        assert_eq!(rc.unset_variables, vec!["MISSING".to_owned()]);
    }

    #[test]
    fn document_has_npm_shape_with_both_attachments() {
        let manifest: Map<String, Value> =
            serde_json::from_str(r#"{"name":"@acme/x","version":"1.0.0","description":"d","main":"index.js"}"#).unwrap();
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
}
