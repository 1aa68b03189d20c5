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
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = rc.substitute(key.trim(), env);
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
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
            let Some(end) = rest[start..].find('}') else {
                break;
            };
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

    /// Every value set for `key`, in order (npm's `ca[]=...` lists).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
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

/// The placeholder `actions/setup-node` puts in `NODE_AUTH_TOKEN` when no token is given; it
/// is never a real credential (npm sends it anyway and gets a misleading 404).
pub const SETUP_NODE_PLACEHOLDER_TOKEN: &str = "XXXXX-XXXXX-XXXXX-XXXXX";

/// The OIDC audience the registry expects for trusted publishing (npm-provenance.md §6 step 2).
pub fn trusted_publishing_audience(registry: &str) -> Option<String> {
    let url = url::Url::parse(registry).ok()?;
    Some(format!("npm:{}", url.host_str()?))
}

/// The OIDC issuer of GitHub Actions tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The OIDC issuer of GitLab.com CI tokens.
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

/// The certificate identity Fulcio issues for a token's claims: `(issuer, SAN)`.
/// GitHub Actions: `https://github.com/<job_workflow_ref>`; GitLab:
/// `https://<ci_config_ref_uri>`; otherwise a verified email, else `sub`
/// (sigstore-protocol.md, Fulcio principals).
pub fn certificate_identity(claims: &Map<String, Value>) -> Option<(String, String)> {
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let issuer = claim("iss")?.to_owned();
    if issuer == GITHUB_ACTIONS_ISSUER {
        return Some((issuer, format!("https://github.com/{}", claim("job_workflow_ref")?)));
    }
    if let Some(config) = claim("ci_config_ref_uri") {
        return Some((issuer, format!("https://{config}")));
    }
    if let Some(email) = claim("email") {
        if claims.get("email_verified").and_then(Value::as_bool) == Some(true) {
            return Some((issuer, email.to_owned()));
        }
    }
    Some((issuer, claim("sub")?.to_owned()))
}

/// What the CI environment says about the build, for the provenance preflight. `None` means
/// not known (then the check is skipped, not passed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFacts {
    /// `https://github.com/<owner>/<repo>` (or the GitLab project URL).
    pub repository: Option<String>,
    /// `RUNNER_ENVIRONMENT`: `github-hosted` or `self-hosted`.
    pub runner_environment: Option<String>,
    /// `public`, `private` or `internal`.
    pub repository_visibility: Option<String>,
}

/// A reason the registry would refuse the publish, found before anything is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreflightError {
    /// `"private": true` in package.json.
    PrivatePackage { name: String },
    /// `access: restricted` on an unscoped name (libnpmpublish `EUNSCOPED`).
    RestrictedUnscoped { name: String },
    /// The version is already on the registry.
    VersionExists { name: String, version: String },
    /// package.json has no usable `repository` (the registry compares it with the certificate).
    MissingRepository { ci_repository: String },
    /// package.json `repository` names another repository than the one building.
    RepositoryMismatch { package_json: String, ci_repository: String },
    /// The runner is not GitHub-hosted.
    UnsupportedRunner { runner_environment: String },
    /// The source repository is not public.
    PrivateSourceRepository { visibility: String },
    /// A new (or not public) scoped package with provenance needs `--access public`.
    AccessNotPublic { name: String },
}

impl std::fmt::Display for PreflightError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PrivatePackage { name } => write!(f, "{name} is marked \"private\": true in package.json"),
            Self::RestrictedUnscoped { name } => write!(f, "cannot restrict access to the unscoped package {name}"),
            Self::VersionExists { name, version } => write!(f, "{name}@{version} is already on the registry"),
            Self::MissingRepository { ci_repository } => write!(
                f,
                "package.json has no \"repository\"; the registry refuses provenance unless it names {ci_repository}"
            ),
            Self::RepositoryMismatch { package_json, ci_repository } => write!(
                f,
                "package.json \"repository\" is {package_json}, but this build runs in {ci_repository}; the registry refuses that provenance"
            ),
            Self::UnsupportedRunner { runner_environment } => write!(
                f,
                "the runner is {runner_environment:?}; the registry accepts provenance only from \"github-hosted\" runners"
            ),
            Self::PrivateSourceRepository { visibility } => write!(
                f,
                "the source repository is {visibility}; the registry accepts provenance only from public repositories"
            ),
            Self::AccessNotPublic { name } => {
                write!(f, "{name} is new or not public, and provenance needs a public package")
            }
        }
    }
}

impl std::error::Error for PreflightError {}

impl PreflightError {
    /// The fix, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            Self::PrivatePackage { .. } => "remove \"private\": true from package.json if the package is meant to be published".into(),
            Self::RestrictedUnscoped { .. } => "use --access public, or publish under a scope (@scope/name)".into(),
            Self::VersionExists { .. } => "bump \"version\" in package.json (published versions can never be replaced)".into(),
            Self::MissingRepository { ci_repository } => {
                format!("add \"repository\": {{\"type\": \"git\", \"url\": \"git+{ci_repository}.git\"}} to package.json")
            }
            Self::RepositoryMismatch { ci_repository, .. } => format!(
                "set \"repository.url\" in package.json to \"git+{ci_repository}.git\" (add \"directory\" for a package in a monorepo)"
            ),
            Self::UnsupportedRunner { .. } => {
                "run the publish job on a GitHub-hosted runner (runs-on: ubuntu-latest), or publish with --no-provenance".into()
            }
            Self::PrivateSourceRepository { .. } => {
                "publish with --no-provenance, or make the source repository public".into()
            }
            Self::AccessNotPublic { .. } => "pass --access public (or publish with --no-provenance)".into(),
        }
    }
}

/// The provenance checks the public registry makes on the bundle (npm-provenance.md §4, the
/// 422 answers), made ahead of time from the manifest and the CI facts.
pub fn check_provenance(manifest: &Map<String, Value>, facts: &BuildFacts) -> Result<(), PreflightError> {
    if let Some(ci_repository) = &facts.repository {
        match manifest.get("repository").and_then(normalize_repository) {
            None => return Err(PreflightError::MissingRepository { ci_repository: ci_repository.clone() }),
            Some(declared) if !same_repository(&declared, ci_repository) => {
                return Err(PreflightError::RepositoryMismatch {
                    package_json: declared,
                    ci_repository: ci_repository.clone(),
                })
            }
            Some(_) => {}
        }
    }
    if let Some(runner) = facts.runner_environment.as_deref().filter(|r| *r != "github-hosted") {
        return Err(PreflightError::UnsupportedRunner { runner_environment: runner.to_owned() });
    }
    if let Some(visibility) = facts.repository_visibility.as_deref().filter(|v| *v != "public") {
        return Err(PreflightError::PrivateSourceRepository { visibility: visibility.to_owned() });
    }
    Ok(())
}

/// The manifest checks every publish makes (libnpmpublish `EPRIVATE`, `EUNSCOPED`).
pub fn check_manifest(name: &str, manifest: &Map<String, Value>, access: Option<&str>) -> Result<(), PreflightError> {
    if manifest.get("private").is_some_and(|p| p == &Value::Bool(true) || p == "true") {
        return Err(PreflightError::PrivatePackage { name: name.to_owned() });
    }
    if access == Some("restricted") && !name.starts_with('@') {
        return Err(PreflightError::RestrictedUnscoped { name: name.to_owned() });
    }
    Ok(())
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
        assert_eq!(
            normalize_repository(&json!({"type": "git", "url": "github:a/b"})),
            Some("https://github.com/a/b".into())
        );
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
    fn fulcio_identity_follows_the_token() {
        let claims = |v: Value| v.as_object().cloned().unwrap();
        let gh = claims(
            json!({"iss": GITHUB_ACTIONS_ISSUER, "sub": "repo:o/r:ref:refs/heads/main", "job_workflow_ref": "o/r/.github/workflows/r.yml@refs/heads/main"}),
        );
        assert_eq!(
            certificate_identity(&gh),
            Some((
                GITHUB_ACTIONS_ISSUER.into(),
                "https://github.com/o/r/.github/workflows/r.yml@refs/heads/main".into()
            ))
        );
        let gl = claims(
            json!({"iss": GITLAB_ISSUER, "sub": "project_path:g/p", "ci_config_ref_uri": "gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main"}),
        );
        assert_eq!(certificate_identity(&gl).unwrap().1, "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main");
        let email =
            claims(json!({"iss": "https://accounts.example", "sub": "123", "email": "a@b.c", "email_verified": true}));
        assert_eq!(certificate_identity(&email).unwrap().1, "a@b.c");
        let unverified = claims(json!({"iss": "https://accounts.example", "sub": "123", "email": "a@b.c"}));
        assert_eq!(certificate_identity(&unverified).unwrap().1, "123");
        assert_eq!(certificate_identity(&claims(json!({"iss": GITHUB_ACTIONS_ISSUER, "sub": "x"}))), None);
        assert_eq!(certificate_identity(&Map::new()), None);
    }

    #[test]
    fn provenance_preflight_names_each_registry_refusal() {
        let manifest = |v: Value| v.as_object().cloned().unwrap();
        let facts = BuildFacts {
            repository: Some("https://github.com/o/r".into()),
            runner_environment: Some("github-hosted".into()),
            repository_visibility: Some("public".into()),
        };
        for form in ["git+https://github.com/o/r.git", "github:o/r", "git@github.com:O/R.git", "https://github.com/o/r"]
        {
            assert_eq!(check_provenance(&manifest(json!({"repository": form})), &facts), Ok(()), "{form}");
        }
        assert!(matches!(
            check_provenance(&manifest(json!({})), &facts),
            Err(PreflightError::MissingRepository { .. })
        ));
        let other =
            check_provenance(&manifest(json!({"repository": {"url": "git+https://github.com/o/other.git"}})), &facts)
                .unwrap_err();
        assert_eq!(
            other,
            PreflightError::RepositoryMismatch {
                package_json: "https://github.com/o/other".into(),
                ci_repository: "https://github.com/o/r".into()
            }
        );
        assert!(other.hint().contains("git+https://github.com/o/r.git"));
        let ok = manifest(json!({"repository": "github:o/r"}));
        let self_hosted = BuildFacts { runner_environment: Some("self-hosted".into()), ..facts.clone() };
        assert!(matches!(check_provenance(&ok, &self_hosted), Err(PreflightError::UnsupportedRunner { .. })));
        let private = BuildFacts { repository_visibility: Some("private".into()), ..facts.clone() };
        assert!(matches!(check_provenance(&ok, &private), Err(PreflightError::PrivateSourceRepository { .. })));
        // Unknown facts are not checked.
        assert_eq!(check_provenance(&manifest(json!({})), &BuildFacts::default()), Ok(()));
    }

    #[test]
    fn manifest_checks_refuse_private_and_restricted_unscoped() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        assert!(matches!(
            check_manifest("x", &m(json!({"private": true})), None),
            Err(PreflightError::PrivatePackage { .. })
        ));
        assert_eq!(check_manifest("x", &m(json!({"private": false})), None), Ok(()));
        assert!(matches!(
            check_manifest("x", &m(json!({})), Some("restricted")),
            Err(PreflightError::RestrictedUnscoped { .. })
        ));
        assert_eq!(check_manifest("@s/x", &m(json!({})), Some("restricted")), Ok(()));
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
