//! A stand-in for the public npm registry, as npm-provenance.md §5-§8 document it: the
//! publish PUT with a tarball and a `.sigstore` provenance attachment (subject and repository
//! checks, 422 otherwise), one-time passwords, trusted publishing's OIDC token exchange, the
//! visibility endpoint, packuments with `dist.attestations`, the attestations endpoint and
//! tarball downloads. Verdaccio covers the plain publish path; it refuses provenance.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use der::Decode as _;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::fake_http::{FakeServer, Request, Response};

#[derive(Debug, Clone)]
pub(crate) struct TrustedPublisher {
    pub package: String,
    /// `owner/repo`.
    pub repository: String,
    /// The workflow file name, e.g. `release.yml`.
    pub workflow_file: String,
}

/// A trusted publisher as the registry's per-package form (and `npm trust`) configures it,
/// for each CI npm offers trusted publishing from (npm docs, trusted-publishers.mdx; npm/cli
/// `lib/commands/trust/{github,gitlab,circleci}.js`). Matched against the identity token's
/// claims at the exchange.
#[derive(Debug, Clone)]
pub(crate) enum Trust {
    /// `repository` (`owner/repo`), the workflow file name, an optional environment.
    GitHub { package: String, repository: String, workflow_file: String, environment: Option<String> },
    /// `project_path`, the top-level CI file path, an optional environment.
    GitLab { package: String, project_path: String, config_file: String, environment: Option<String> },
    /// `oidc.circleci.com/{org-id,project-id,pipeline-definition-id,vcs-origin}` and optional
    /// context IDs.
    CircleCi {
        package: String,
        org_id: String,
        project_id: String,
        pipeline_definition_id: String,
        vcs_origin: String,
        context_ids: Vec<String>,
    },
}

impl Trust {
    fn package(&self) -> &str {
        match self {
            Self::GitHub { package, .. } | Self::GitLab { package, .. } | Self::CircleCi { package, .. } => package,
        }
    }

    /// Whether a token's claims match this publisher.
    fn matches(&self, claims: &Value) -> bool {
        let claim = |k: &str| claims[k].as_str().unwrap_or("");
        let environment_ok = |want: &Option<String>| match want {
            Some(env) => claim("environment") == env,
            None => true,
        };
        match self {
            Self::GitHub { repository, workflow_file, environment, .. } => {
                // The calling workflow (`workflow_ref`), file name only, case-sensitive.
                let file = claim("workflow_ref").split('@').next().and_then(|p| p.rsplit('/').next()).unwrap_or("");
                claims["iss"] == "https://token.actions.githubusercontent.com"
                    && claim("repository") == repository
                    && file == workflow_file
                    && environment_ok(environment)
            }
            Self::GitLab { project_path, config_file, environment, .. } => {
                let file = claim("ci_config_ref_uri")
                    .rsplit_once('@')
                    .map(|(p, _)| p)
                    .and_then(|p| p.split_once("//"))
                    .map(|(_, f)| f)
                    .unwrap_or("");
                claims["iss"] == "https://gitlab.com"
                    && claim("project_path") == project_path
                    && file == config_file
                    && environment_ok(environment)
            }
            Self::CircleCi { org_id, project_id, pipeline_definition_id, vcs_origin, context_ids, .. } => {
                let contexts: Vec<&str> = claims["oidc.circleci.com/context-ids"]
                    .as_array()
                    .map(|ids| ids.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                claim("iss") == format!("https://oidc.circleci.com/org/{org_id}")
                    && claim("oidc.circleci.com/org-id") == org_id
                    && claim("oidc.circleci.com/project-id") == project_id
                    && claim("oidc.circleci.com/pipeline-definition-id") == pipeline_definition_id
                    && claim("oidc.circleci.com/vcs-origin") == vcs_origin
                    && context_ids.iter().all(|c| contexts.contains(&c.as_str()))
                    // A job rerun with SSH is refused (npm/cli#9923).
                    && claims["oidc.circleci.com/ssh-rerun"] != Value::Bool(true)
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RegistryConfig {
    /// Static tokens accepted for publishing.
    pub tokens: Vec<String>,
    /// When set, a publish needs this code in `npm-otp`.
    pub otp: Option<String>,
    pub trusted_publishers: Vec<TrustedPublisher>,
    /// Trusted publishers of any CI (with environments); `trusted_publishers` are GitHub ones
    /// without an environment.
    pub trust: Vec<Trust>,
    /// When set, the exchange checks identity tokens' ES256 signatures with this key (the CI
    /// issuer's JWKS, as the registry does) and answers 401 "unauthorized" to any other.
    pub ci_issuer_key: Option<p256::ecdsa::VerifyingKey>,
    /// Packages whose visibility endpoint answers `{"public": true}`.
    pub public_packages: Vec<String>,
    /// Private packages: their packument is hidden (404) from a read without a token.
    pub private_packages: Vec<String>,
    /// Answer the first N PUTs with 503 (transient-fault tests).
    pub fail_first_puts: u32,
    /// Store the first successful PUT but answer it with 502 (the answer is lost on the way).
    pub lose_first_answer: bool,
}

#[derive(Debug, Default)]
struct State {
    config: RegistryConfig,
    /// name -> packument
    packuments: BTreeMap<String, Value>,
    /// "name@version" -> tarball bytes
    tarballs: BTreeMap<String, Vec<u8>>,
    /// "name@version" -> provenance bundle JSON
    provenance: BTreeMap<String, Value>,
    /// "name@version" -> a whole attestations answer that replaces the generated one
    listings: BTreeMap<String, Value>,
    issued_tokens: Vec<String>,
    requests: Vec<(String, String)>,
    /// Every PUT, in full (headers and body).
    put_requests: Vec<Request>,
    puts_seen: u32,
    /// Token exchanges that issued a token.
    exchanges: u32,
}

pub(crate) struct RegistryStandin {
    pub server: FakeServer,
    state: Arc<Mutex<State>>,
}

impl RegistryStandin {
    pub(crate) fn start(config: RegistryConfig) -> Self {
        let state = Arc::new(Mutex::new(State { config, ..State::default() }));
        let shared = state.clone();
        let server = FakeServer::start(move |req| {
            let mut st = shared.lock().unwrap();
            st.requests.push((req.method.clone(), req.path.clone()));
            if req.method == "PUT" {
                st.put_requests.push(req.clone());
            }
            handle(&mut st, &req)
        });
        Self { server, state }
    }

    pub(crate) fn url(&self) -> String {
        format!("{}/", self.server.url)
    }

    /// (method, path) of every request so far.
    pub(crate) fn requests(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Token exchanges that issued a publish token.
    pub(crate) fn exchanges(&self) -> u32 {
        self.state.lock().unwrap().exchanges
    }

    pub(crate) fn puts(&self) -> usize {
        self.requests().iter().filter(|(m, _)| m == "PUT").count()
    }

    pub(crate) fn packument(&self, name: &str) -> Option<Value> {
        self.state.lock().unwrap().packuments.get(name).cloned()
    }

    /// Every PUT request received, in full.
    pub(crate) fn put_requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().put_requests.clone()
    }

    /// The provenance bundle stored for `name@version`.
    pub(crate) fn provenance(&self, spec: &str) -> Option<Value> {
        self.state.lock().unwrap().provenance.get(spec).cloned()
    }

    /// Serves other bytes as the tarball of `name@version` (a tampered mirror).
    pub(crate) fn replace_tarball(&self, spec: &str, bytes: Vec<u8>) {
        self.state.lock().unwrap().tarballs.insert(spec.to_owned(), bytes);
    }

    /// Seeds a published version with its tarball and, when given, its provenance bundle, as
    /// a publish would have left them (packument `dist` with tarball URL, integrity and
    /// attestations URL).
    pub(crate) fn seed_published(&self, name: &str, version: &str, tarball: Vec<u8>, bundle: Option<Value>) {
        let base = self.server.url.clone();
        let mut st = self.state.lock().unwrap();
        let integrity =
            format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball)));
        let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap_or(name));
        let mut dist = json!({"integrity": integrity, "tarball": format!("{base}/{name}/-/{file}")});
        if let Some(bundle) = bundle {
            dist["attestations"] = json!({
                "url": format!("{base}/-/npm/v1/attestations/{name}@{version}"),
                "provenance": {"predicateType": "https://slsa.dev/provenance/v1"}
            });
            st.provenance.insert(format!("{name}@{version}"), bundle);
        }
        st.tarballs.insert(format!("{name}@{version}"), tarball);
        let doc = st
            .packuments
            .entry(name.to_owned())
            .or_insert_with(|| json!({"_id": name, "name": name, "dist-tags": {}, "versions": {}, "time": {}}));
        doc["versions"][version] = json!({"name": name, "version": version, "dist": dist});
        doc["dist-tags"]["latest"] = json!(version);
    }

    /// Seeds a published version like [`RegistryStandin::seed_published`], with the
    /// `repository` its package.json declares (as the packument version carries it).
    pub(crate) fn seed_with_repository(
        &self,
        name: &str,
        version: &str,
        tarball: Vec<u8>,
        bundle: Option<Value>,
        repository: Option<&str>,
    ) {
        self.seed_published(name, version, tarball, bundle);
        if let Some(repository) = repository {
            let mut st = self.state.lock().unwrap();
            if let Some(doc) = st.packuments.get_mut(name) {
                doc["versions"][version]["repository"] = json!({"type": "git", "url": repository});
            }
        }
    }

    /// Replaces the attestations listing of `name@version` (a registry that lies in its
    /// unsigned `predicateType`, or lists several bundles).
    pub(crate) fn set_attestations(&self, spec: &str, listing: Value) {
        self.state.lock().unwrap().listings.insert(spec.to_owned(), listing);
    }

    /// Points the packument's `dist.attestations.url` of `name@version` somewhere else.
    pub(crate) fn set_attestations_url(&self, name: &str, version: &str, url: &str) {
        let mut st = self.state.lock().unwrap();
        if let Some(doc) = st.packuments.get_mut(name) {
            doc["versions"][version]["dist"]["attestations"]["url"] = json!(url);
        }
    }

    /// Seeds an already-published version.
    pub(crate) fn seed_version(&self, name: &str, version: &str) {
        let mut st = self.state.lock().unwrap();
        let doc = st
            .packuments
            .entry(name.to_owned())
            .or_insert_with(|| json!({"_id": name, "name": name, "dist-tags": {}, "versions": {}, "time": {}}));
        doc["versions"][version] = json!({"name": name, "version": version, "dist": {}});
        doc["dist-tags"]["latest"] = json!(version);
    }
}

fn error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"error": message}))
}

/// `@scope%2fname` and `@scope%2Fname` and `@scope/name` all name `@scope/name`.
fn unescape_name(segment: &str) -> String {
    segment.replace("%2f", "/").replace("%2F", "/").replace("%40", "@")
}

fn purl(name: &str, version: &str) -> String {
    format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1))
}

fn handle(st: &mut State, req: &Request) -> Response {
    let path = req.path_only().to_owned();
    if let Some(rest) = path.strip_prefix("/-/npm/v1/oidc/token/exchange/package/") {
        return oidc_exchange(st, req, &unescape_name(rest));
    }
    if let Some(rest) = path.strip_prefix("/-/package/") {
        if let Some(name) = rest.strip_suffix("/visibility") {
            let name = unescape_name(name);
            if !st.packuments.contains_key(&name) && !st.config.public_packages.contains(&name) {
                return error(404, "Not found");
            }
            return Response::json(200, &json!({"public": st.config.public_packages.contains(&name)}));
        }
    }
    if let Some(spec) = path.strip_prefix("/-/npm/v1/attestations/") {
        let spec = unescape_name(spec);
        if let Some(listing) = st.listings.get(&spec) {
            return Response::json(200, listing);
        }
        return match st.provenance.get(&spec) {
            Some(bundle) => {
                let predicate_type = statement_of(bundle)
                    .and_then(|s| s["predicateType"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                Response::json(200, &json!({"attestations": [{"predicateType": predicate_type, "bundle": bundle}]}))
            }
            None => error(404, "Not found"),
        };
    }
    // Tarball: /<name>/-/<file>.tgz (name may be @scope/name).
    if req.method == "GET" {
        if let Some((name, file)) = path.trim_start_matches('/').split_once("/-/") {
            let name = unescape_name(name);
            let base = name.rsplit('/').next().unwrap_or(&name);
            if let Some(version) = file
                .strip_suffix(".tgz")
                .and_then(|f| f.rsplit('/').next())
                .and_then(|f| f.strip_prefix(&format!("{base}-")))
            {
                return match st.tarballs.get(&format!("{name}@{version}")) {
                    Some(t) => Response::bytes(200, "application/octet-stream", t.clone()),
                    None => error(404, "Not found"),
                };
            }
        }
        let name = unescape_name(path.trim_start_matches('/'));
        let hidden = st.config.private_packages.contains(&name) && req.bearer().is_none();
        return match st.packuments.get(&name) {
            Some(doc) if !hidden => Response::json(200, doc),
            _ => error(404, "Not found"),
        };
    }
    if req.method == "PUT" {
        return publish(st, req, &unescape_name(path.trim_start_matches('/')));
    }
    error(405, "method not allowed")
}

fn oidc_exchange(st: &mut State, req: &Request, name: &str) -> Response {
    let Some(jwt) = req.bearer() else {
        return Response::json(401, &json!({"message": "OIDC token exchange error - unauthorized"}));
    };
    let Some(claims) = jwt
        .split('.')
        .nth(1)
        .and_then(|c| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return Response::json(400, &json!({"message": "OIDC token exchange error - bad request"}));
    };
    let host = url::Url::parse(&format!("http://{}", req.header("host").unwrap_or("")))
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let audience_ok = match &claims["aud"] {
        Value::String(a) => *a == format!("npm:{host}"),
        Value::Array(items) => items.iter().any(|a| a.as_str() == Some(&format!("npm:{host}"))),
        _ => false,
    };
    let not_expired = claims["exp"].as_i64().is_some_and(|exp| exp > now());
    let signed = match &st.config.ci_issuer_key {
        Some(key) => npm_attest::core::jwt::verify_es256(key, jwt).is_ok(),
        None => true,
    };
    if !audience_ok || !not_expired || !signed {
        return Response::json(401, &json!({"message": "OIDC token exchange error - unauthorized"}));
    }
    // The registry answers "package not found" both for a package without a trusted publisher
    // and for a token its publisher does not match (another workflow file, environment or
    // project: npm/cli#9923, #9969), so a client cannot tell them apart from the answer.
    let not_found = || Response::json(404, &json!({"message": "OIDC token exchange error - package not found"}));
    // A trusted publisher belongs to a package that exists: there is none for a first publish.
    if !st.packuments.contains_key(name) {
        return not_found();
    }
    let github = st.config.trusted_publishers.iter().map(|p| Trust::GitHub {
        package: p.package.clone(),
        repository: p.repository.clone(),
        workflow_file: p.workflow_file.clone(),
        environment: None,
    });
    let publishers: Vec<Trust> =
        github.chain(st.config.trust.iter().cloned()).filter(|p| p.package() == name).collect();
    if publishers.is_empty() || !publishers.iter().any(|p| p.matches(&claims)) {
        return not_found();
    }
    st.exchanges += 1;
    let token = format!("npm_oidc_{:032x}", st.issued_tokens.len() as u128 + 0x5eed_0000);
    st.issued_tokens.push(token.clone());
    Response::json(
        201,
        &json!({"token_type": "oidc", "token": token, "created": "2026-01-01T00:00:00.000Z", "expires": "2099-01-01T00:00:00.000Z"}),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn statement_of(bundle: &Value) -> Option<Value> {
    let payload = bundle["dsseEnvelope"]["payload"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A Sigstore extension (1.3.6.1.4.1.57264.1.N, DER UTF8String) of the bundle's leaf.
fn cert_extension(bundle: &Value, n: u32) -> Option<String> {
    let b64 = bundle["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())?;
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let cert = x509_cert::Certificate::from_der(&der).ok()?;
    let oid = format!("1.3.6.1.4.1.57264.1.{n}");
    let ext = cert.tbs_certificate.extensions?.into_iter().find(|e| e.extn_id.to_string() == oid)?;
    let s = der::asn1::Utf8StringRef::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(s.as_str().to_owned())
}

fn publish(st: &mut State, req: &Request, name: &str) -> Response {
    st.puts_seen += 1;
    if st.puts_seen <= st.config.fail_first_puts {
        return error(503, "Service Unavailable");
    }
    let token_ok = req
        .bearer()
        .is_some_and(|t| st.config.tokens.iter().any(|k| k == t) || st.issued_tokens.iter().any(|k| k == t));
    if !token_ok {
        return error(401, "Unable to authenticate, need: Bearer");
    }
    if let Some(otp) = &st.config.otp {
        if req.header("npm-otp") != Some(otp.as_str()) {
            return error(401, "This operation requires a one-time password.").with_header("www-authenticate", "OTP");
        }
    }
    let Some(doc) = req.json() else {
        return error(400, "invalid JSON body");
    };
    if doc["name"].as_str() != Some(name) || doc["_id"].as_str() != Some(name) {
        return error(400, "package name in the body does not match the URL");
    }
    let Some(versions) = doc["versions"].as_object().filter(|v| v.len() == 1) else {
        return error(400, "exactly one version must be published");
    };
    let (version, manifest) = versions.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap_or_default();
    if st.packuments.get(name).is_some_and(|p| p["versions"].get(&version).is_some()) {
        return error(403, &format!("You cannot publish over the previously published versions: {version}."));
    }
    let Some(attachments) = doc["_attachments"].as_object() else {
        return error(400, "no attachments");
    };
    let tgz_key = format!("{name}-{version}.tgz");
    let Some(tarball) = attachments
        .get(&tgz_key)
        .and_then(|a| a["data"].as_str())
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
    else {
        return error(400, &format!("missing attachment {tgz_key}"));
    };
    let sha512 = sha2::Sha512::digest(&tarball);
    let integrity = format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha512));
    if manifest["dist"]["integrity"].as_str() != Some(integrity.as_str()) {
        return error(400, "dist.integrity does not match the attached tarball");
    }
    let sigstore_key = format!("{name}-{version}.sigstore");
    let mut provenance = None;
    if let Some(att) = attachments.get(&sigstore_key) {
        let reject = |why: &str| error(422, &format!("Error verifying sigstore provenance bundle: {why}"));
        let Some(bundle) = att["data"].as_str().and_then(|d| serde_json::from_str::<Value>(d).ok()) else {
            return reject("the attachment is not a JSON bundle");
        };
        let Some(statement) = statement_of(&bundle) else {
            return reject("no DSSE payload");
        };
        let subjects = statement["subject"].as_array().cloned().unwrap_or_default();
        if subjects.len() != 1
            || subjects[0]["name"].as_str() != Some(purl(name, &version).as_str())
            || subjects[0]["digest"]["sha512"].as_str() != Some(hex::encode(sha512).as_str())
        {
            return reject("the provenance subject does not match the package");
        }
        let cert_repo = cert_extension(&bundle, 12).unwrap_or_default();
        let pkg_repo = manifest
            .get("repository")
            .and_then(npm_attest::core::npm::repository::normalize_repository)
            .unwrap_or_default();
        if !npm_attest::core::npm::repository::same_repository(&cert_repo, &pkg_repo) {
            return reject(&format!(
                "Failed to validate repository information: package.json: \"repository.url\" is \"{pkg_repo}\", expected to match \"{cert_repo}\" from provenance"
            ));
        }
        if let Some(env) = cert_extension(&bundle, 11).filter(|e| e != "github-hosted" && e != "gitlab-hosted") {
            return reject(&format!("Unsupported GitHub Actions runner environment: \"{env}\". Only \"github-hosted\" runners are supported when publishing with provenance."));
        }
        if let Some(vis) = cert_extension(&bundle, 22).filter(|v| v != "public") {
            return reject(&format!("Unsupported GitHub Actions source repository visibility: \"{vis}\". Only public source repositories are supported when publishing with provenance."));
        }
        provenance = Some((bundle, statement["predicateType"].as_str().unwrap_or_default().to_owned()));
    } else if attachments.len() != 1 {
        return error(400, "unsupported attachment");
    }
    let host = req.header("host").unwrap_or("127.0.0.1");
    let mut manifest = manifest;
    manifest["dist"]["tarball"] =
        json!(format!("http://{host}/{name}/-/{}-{version}.tgz", name.rsplit('/').next().unwrap_or(name)));
    if let Some((bundle, predicate_type)) = provenance {
        manifest["dist"]["attestations"] = json!({
            "url": format!("http://{host}/-/npm/v1/attestations/{name}@{version}"),
            "provenance": {"predicateType": predicate_type}
        });
        st.provenance.insert(format!("{name}@{version}"), bundle);
    }
    let entry = st
        .packuments
        .entry(name.to_owned())
        .or_insert_with(|| json!({"_id": name, "name": name, "dist-tags": {}, "versions": {}, "time": {}}));
    entry["versions"][&version] = manifest;
    if let Some(tags) = doc["dist-tags"].as_object() {
        for (tag, v) in tags {
            entry["dist-tags"][tag] = v.clone();
        }
    }
    entry["time"][&version] = json!("2026-11-25T00:00:00.000Z");
    if let Some(d) = doc.get("description") {
        entry["description"] = d.clone();
    }
    st.tarballs.insert(format!("{name}@{version}"), tarball);
    if st.config.lose_first_answer && st.puts_seen == 1 {
        return error(502, "Bad Gateway");
    }
    Response::json(201, &json!({"ok": true, "id": name, "success": true}))
}
