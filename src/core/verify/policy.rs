//! Policy decisions over verified facts: who may have signed (the repository and workflow a
//! certificate names, parsed by the structure Fulcio gives them), which predicate types count,
//! strict parsing of the signed statement, and the per-package verdict of a dependency tree
//! (declared repository, provenance downgrade, exemptions).
//!
//! Pure: every input is a verified fact or a value the caller parsed; nothing here reads files,
//! the network or the clock.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::core::npm::repository::{normalize_repository_url, same_repository};
pub use crate::core::well_known::{SLSA_PROVENANCE_V0_2, SLSA_PROVENANCE_V1};

/// npm's publish attestation, signed with the registry's key (npm-provenance.md §8).
pub const NPM_PUBLISH_V0_1: &str = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";

// ---------------------------------------------------------------------------------------------
// Predicate types.

/// Which predicate types a statement may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PredicateRule {
    /// No predicate-type check (the Sigstore algorithm alone: conformance, message signatures).
    Any,
    /// The statement's `predicateType` must be one of these, exactly.
    OneOf(Vec<String>),
}

impl PredicateRule {
    /// SLSA provenance, v1 or v0.2: the two forms npm has signed (npm-provenance.md §2.1; the
    /// real 2023 bundles in tests/data are v0.2 from GitHub Actions).
    pub fn slsa_provenance() -> Self {
        Self::OneOf(vec![SLSA_PROVENANCE_V1.to_owned(), SLSA_PROVENANCE_V0_2.to_owned()])
    }

    /// npm's registry-key publish attestation.
    pub fn npm_publish() -> Self {
        Self::OneOf(vec![NPM_PUBLISH_V0_1.to_owned()])
    }

    pub fn exactly(predicate_type: impl Into<String>) -> Self {
        Self::OneOf(vec![predicate_type.into()])
    }

    pub fn allows(&self, predicate_type: &str) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(types) => types.iter().any(|t| t == predicate_type),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Any => "any predicate type".to_owned(),
            Self::OneOf(types) => types.join(" or "),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Repositories and workflows.

/// What `--repository` accepts, as a repository URL: `OWNER/REPO` (GitHub, as
/// `gh attestation verify --repo` takes it), `HOST/OWNER/REPO`, or a URL
/// (`https://HOST/OWNER/REPO`, with an optional `.git` or trailing `/`). GitLab groups may
/// nest (`https://gitlab.com/group/sub/project`). `None` when the text is none of those.
pub fn repository_url(arg: &str) -> Option<String> {
    let arg = arg.trim();
    if arg.is_empty() || arg.chars().any(char::is_whitespace) {
        return None;
    }
    let url = if arg.contains("://") {
        let (scheme, _) = arg.split_once("://")?;
        if scheme != "https" {
            return None;
        }
        normalize_repository_url(arg)?
    } else if arg.matches('/').count() == 1 {
        normalize_repository_url(arg)?
    } else {
        // HOST/OWNER/REPO: the first segment must look like a host name.
        let (host, _) = arg.split_once('/')?;
        if !host.contains('.') {
            return None;
        }
        normalize_repository_url(&format!("https://{arg}"))?
    };
    let rest = url.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    if host.is_empty() || path.split('/').count() < 2 || path.split('/').any(str::is_empty) {
        return None;
    }
    Some(url)
}

/// The parts of a workflow URI as Fulcio writes them (Build Signer URI `.9`, Build Config URI
/// `.18`, and the SAN of a CI certificate): `https://HOST/OWNER/REPO/PATH@REF` on GitHub, and
/// `https://HOST/GROUP/.../PROJECT//PATH@REF` on GitLab. The path ends at `.yml` or `.yaml`;
/// everything after the `@` that follows it is the ref, `@` included (`refs/tags/pkg@1.0.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowUri<'a> {
    /// `https://HOST/OWNER/REPO`.
    pub repository: &'a str,
    /// `.github/workflows/release.yml`.
    pub path: &'a str,
    /// `refs/tags/v1.0.0`.
    pub git_ref: &'a str,
}

pub fn parse_workflow_uri(uri: &str) -> Option<WorkflowUri<'_>> {
    let after_scheme = uri.strip_prefix("https://")?;
    let host_end = after_scheme.find('/')? + "https://".len();
    // The path ends at the first `.yml@` or `.yaml@`: a ref may hold `@`, a path does not.
    let end = [".yml@", ".yaml@"]
        .iter()
        .filter_map(|suffix| uri[host_end..].find(suffix).map(|i| host_end + i + suffix.len() - 1))
        .min()?;
    let (location, git_ref) = (&uri[..end], &uri[end + 1..]);
    if git_ref.is_empty() {
        return None;
    }
    let (repository, path) = match location[host_end + 1..].find("//") {
        // GitLab: the project path, then `//`, then the file.
        Some(i) => (&location[..host_end + 1 + i], &location[host_end + 1 + i + 2..]),
        None => {
            // GitHub: two segments of owner and repository, then the file.
            let rest = &location[host_end + 1..];
            let mut slashes = rest.match_indices('/').map(|(i, _)| i);
            let _owner_end = slashes.next()?;
            let repo_end = slashes.next()?;
            (&location[..host_end + 1 + repo_end], &rest[repo_end + 1..])
        }
    };
    if path.is_empty() || repository.ends_with('/') {
        return None;
    }
    Some(WorkflowUri { repository, path, git_ref })
}

/// `--workflow` as a path: a bare file name means `.github/workflows/NAME`.
pub fn workflow_path(arg: &str) -> Option<String> {
    let arg = arg.trim().trim_start_matches("./").trim_start_matches('/');
    if arg.is_empty() || arg.contains('@') || !(arg.ends_with(".yml") || arg.ends_with(".yaml")) {
        return None;
    }
    Some(if arg.contains('/') { arg.to_owned() } else { format!(".github/workflows/{arg}") })
}

/// `--signer-workflow [HOST/]OWNER/REPO/PATH` as `(repository URL, path)`; the host defaults
/// to github.com (gh's form).
pub fn signer_workflow(arg: &str) -> Option<(String, String)> {
    let arg = arg.trim().trim_start_matches("https://");
    let arg = arg.split('@').next().unwrap_or(arg);
    let segments: Vec<&str> = arg.split('/').collect();
    let (host, rest) = match segments.first() {
        Some(first) if first.contains('.') => (*first, &segments[1..]),
        _ => ("github.com", &segments[..]),
    };
    let [owner, repo, path @ ..] = rest else { return None };
    if owner.is_empty() || repo.is_empty() || path.is_empty() {
        return None;
    }
    let path = workflow_path(&path.join("/"))?;
    Some((format!("https://{host}/{owner}/{repo}"), path))
}

/// Who must have signed, beyond the SAN matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerRule {
    /// No constraint on the signer workflow (the SAN matcher or the caller pins it).
    Unconstrained,
    /// A workflow of the source repository itself (gh's default with `--repo`).
    SameRepository,
    /// A workflow of this repository (`--signer-repository`: a reusable workflow's home).
    Repository(String),
    /// Exactly this workflow file of this repository, at any ref (`--signer-workflow`).
    Workflow { repository: String, path: String },
}

/// Why a signer identity does not satisfy a [`SignerRule`] or a workflow narrowing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerMismatch {
    pub expected: String,
    pub found: String,
}

/// Checks the signer workflow URI (Build Signer URI, or the SAN for certificates without it)
/// against `rule`, with `source_repository` the policy's source repository (for
/// [`SignerRule::SameRepository`]) and `workflow` an optional path narrowing.
pub fn check_signer(
    signer_uri: &str,
    rule: &SignerRule,
    source_repository: Option<&str>,
    workflow: Option<&str>,
) -> Result<(), SignerMismatch> {
    if matches!(rule, SignerRule::Unconstrained) && workflow.is_none() {
        return Ok(());
    }
    let mismatch = |expected: String| SignerMismatch { expected, found: signer_uri.to_owned() };
    let parsed = parse_workflow_uri(signer_uri);
    let want_repository = match rule {
        SignerRule::Unconstrained => None,
        SignerRule::SameRepository => Some(source_repository.unwrap_or_default()),
        SignerRule::Repository(r) | SignerRule::Workflow { repository: r, .. } => Some(r.as_str()),
    };
    let want_path = match rule {
        SignerRule::Workflow { path, .. } => Some(path.as_str()),
        _ => workflow,
    };
    let describe = || {
        let repo = want_repository.map_or_else(|| "any repository".to_owned(), str::to_owned);
        let path = want_path.map_or_else(|| "<any workflow>".to_owned(), str::to_owned);
        format!("{repo}/{path}@<ref>")
    };
    let Some(parsed) = parsed else { return Err(mismatch(describe())) };
    if let Some(repo) = want_repository {
        if repo.is_empty() || !same_repository(parsed.repository, repo) {
            return Err(mismatch(describe()));
        }
    }
    if let Some(path) = want_path {
        if parsed.path != path {
            return Err(mismatch(describe()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Strict JSON: duplicate keys rejected.

/// A JSON value parsed with duplicate object keys refused at any depth. serde_json keeps the
/// last of duplicate keys; protobuf-JSON parsers (sigstore-go, sigstore-python) reject them,
/// so a statement with duplicates would mean different things to different verifiers.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictJson(pub Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictJson(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses `bytes` as JSON, refusing duplicate keys.
pub fn parse_strict_json(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<StrictJson>(bytes).map(|s| s.0).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// The per-package model of a dependency tree.

/// One rule of a policy file: packages whose name matches `name` (exact, or with `*`
/// wildcards) are expected from `repository` (instead of the one they declare), signed by
/// `workflow`, or are exempt from provenance checks for the given reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PackageRule {
    pub name: String,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub workflow: Option<String>,
    /// The repository whose reusable workflow signs this package (`OWNER/REPO`).
    #[serde(default)]
    pub signer_repository: Option<String>,
    /// The reusable workflow that signs this package (`[HOST/]OWNER/REPO/PATH`).
    #[serde(default)]
    pub signer_workflow: Option<String>,
    /// Why the package is exempt; present means exempt.
    #[serde(default)]
    pub exempt: Option<String>,
}

/// A policy file: `{"packages": [rule, ...]}`; the first matching rule applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TreePolicy {
    #[serde(default)]
    pub packages: Vec<PackageRule>,
}

impl TreePolicy {
    /// Parses and checks a policy file (duplicate keys refused, rules well-formed).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let value = parse_strict_json(bytes)?;
        let policy: TreePolicy = serde_json::from_value(value).map_err(|e| e.to_string())?;
        for (i, rule) in policy.packages.iter().enumerate() {
            let at = format!("packages[{i}] ({:?})", rule.name);
            if rule.name.trim().is_empty() {
                return Err(format!("{at}: name is empty"));
            }
            if let Some(reason) = &rule.exempt {
                if reason.trim().is_empty() {
                    return Err(format!("{at}: an exemption needs a reason"));
                }
                if rule.repository.is_some()
                    || rule.workflow.is_some()
                    || rule.signer_repository.is_some()
                    || rule.signer_workflow.is_some()
                {
                    return Err(format!("{at}: an exempt package takes no repository or workflow"));
                }
            }
            if let Some(repo) = &rule.repository {
                if repository_url(repo).is_none() {
                    return Err(format!("{at}: repository {repo:?} is not OWNER/REPO or an https URL"));
                }
            }
            if let Some(workflow) = &rule.workflow {
                if workflow_path(workflow).is_none() {
                    return Err(format!("{at}: workflow {workflow:?} is not a .yml/.yaml path"));
                }
            }
            if rule.signer_repository.is_some() && rule.signer_workflow.is_some() {
                return Err(format!("{at}: give signerRepository or signerWorkflow, not both"));
            }
            if rule.signer_workflow.is_some() && rule.workflow.is_some() {
                return Err(format!("{at}: signerWorkflow names the workflow; drop workflow"));
            }
            if let Some(repo) = &rule.signer_repository {
                if repository_url(repo).is_none() {
                    return Err(format!("{at}: signerRepository {repo:?} is not OWNER/REPO or an https URL"));
                }
            }
            if let Some(workflow) = &rule.signer_workflow {
                if signer_workflow(workflow).is_none() {
                    return Err(format!("{at}: signerWorkflow {workflow:?} is not [HOST/]OWNER/REPO/PATH"));
                }
            }
        }
        Ok(policy)
    }

    /// The first rule whose pattern matches `name`.
    pub fn rule_for(&self, name: &str) -> Option<&PackageRule> {
        self.packages.iter().find(|r| name_matches(&r.name, name))
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else { return pattern == name };
    if parts.len() == 1 {
        return pattern == name;
    }
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The signer facts of one verified provenance attestation that continuity compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceOrigin {
    /// Source Repository URI.
    pub repository: String,
    /// The signer workflow without its ref: `https://HOST/OWNER/REPO/PATH`.
    pub workflow: String,
}

impl ProvenanceOrigin {
    /// From the Source Repository URI and the Build Signer URI (or SAN).
    pub fn new(source_repository: &str, signer_uri: &str) -> Self {
        let workflow = match parse_workflow_uri(signer_uri) {
            Some(w) => format!("{}/{}", w.repository, w.path),
            None => signer_uri.to_owned(),
        };
        Self { repository: source_repository.to_owned(), workflow }
    }
}

/// What the registry says about the provenance of earlier versions of the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// No earlier version announced provenance.
    None,
    /// The highest earlier version that did, and its verified origin.
    Verified { version: String, origin: ProvenanceOrigin },
    /// The highest earlier version announced provenance, which did not verify.
    Unverifiable { version: String, reason: String },
}

/// The expected origin of one package: from the policy file, else from the repository the
/// package declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    Exempt {
        reason: String,
    },
    /// Expected repository URL (`None` when the package declares none and no rule names one),
    /// who may sign (a workflow of that repository unless a rule names a reusable one), and an
    /// optional workflow path narrowing.
    Origin {
        repository: Option<String>,
        signer: SignerRule,
        workflow: Option<String>,
        from_policy: bool,
    },
}

/// What a package's dependency-tree check requires, before any bundle is verified.
pub fn expectation(policy: &TreePolicy, name: &str, declared_repository: Option<&str>) -> Expectation {
    match policy.rule_for(name) {
        Some(PackageRule { exempt: Some(reason), .. }) => Expectation::Exempt { reason: reason.clone() },
        Some(rule) => Expectation::Origin {
            repository: rule
                .repository
                .as_deref()
                .and_then(repository_url)
                .or_else(|| declared_repository.map(str::to_owned)),
            signer: match (&rule.signer_repository, &rule.signer_workflow) {
                (Some(r), _) => repository_url(r).map_or(SignerRule::SameRepository, SignerRule::Repository),
                (None, Some(w)) => signer_workflow(w)
                    .map_or(SignerRule::SameRepository, |(repository, path)| SignerRule::Workflow { repository, path }),
                (None, None) => SignerRule::SameRepository,
            },
            workflow: rule.workflow.as_deref().and_then(workflow_path),
            from_policy: rule.repository.is_some(),
        },
        None => Expectation::Origin {
            repository: declared_repository.map(str::to_owned),
            signer: SignerRule::SameRepository,
            workflow: None,
            from_policy: false,
        },
    }
}

/// The verdict on one package of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeVerdict {
    /// Provenance verified under the package's expectation and continuity held.
    Verified,
    /// No provenance, and none was ever published for earlier versions: allowed unless
    /// provenance is required.
    NoProvenance,
    Exempt {
        reason: String,
    },
    Failed(TreeFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeFailure {
    /// `--require-provenance` and the package has none.
    ProvenanceRequired,
    /// Earlier versions had provenance; this one has none.
    DowngradeMissing { earlier: String },
    /// This version's provenance comes from another repository or workflow than the earlier
    /// version's.
    DowngradeOrigin { earlier: String, field: &'static str, before: String, now: String },
    /// The earlier version's provenance does not verify, so continuity cannot be shown.
    HistoryUnverifiable { earlier: String, reason: String },
}

impl std::fmt::Display for TreeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ProvenanceRequired => f.write_str("has no provenance, and --require-provenance is set"),
            Self::DowngradeMissing { earlier } => write!(
                f,
                "provenance downgrade: this version has no provenance, but earlier version {earlier} had it"
            ),
            Self::DowngradeOrigin { earlier, field, before, now } => write!(
                f,
                "provenance downgrade: signed from {field} {now}, but earlier version {earlier} was signed from {before}"
            ),
            Self::HistoryUnverifiable { earlier, reason } => write!(
                f,
                "cannot check provenance continuity: the provenance of earlier version {earlier} does not verify: {reason}"
            ),
        }
    }
}

/// The continuity and presence rules, once this version's own provenance (if any) verified
/// under its [`Expectation`]: `current` is its origin, `None` when it has no provenance.
pub fn judge(current: Option<&ProvenanceOrigin>, history: &History, require_provenance: bool) -> TreeVerdict {
    match (current, history) {
        (None, History::Verified { version, .. } | History::Unverifiable { version, .. }) => {
            TreeVerdict::Failed(TreeFailure::DowngradeMissing { earlier: version.clone() })
        }
        (None, History::None) if require_provenance => TreeVerdict::Failed(TreeFailure::ProvenanceRequired),
        (None, History::None) => TreeVerdict::NoProvenance,
        (Some(_), History::None) => TreeVerdict::Verified,
        (Some(_), History::Unverifiable { version, reason }) => {
            TreeVerdict::Failed(TreeFailure::HistoryUnverifiable { earlier: version.clone(), reason: reason.clone() })
        }
        (Some(now), History::Verified { version, origin }) => {
            if !same_repository(&now.repository, &origin.repository) {
                return TreeVerdict::Failed(TreeFailure::DowngradeOrigin {
                    earlier: version.clone(),
                    field: "repository",
                    before: origin.repository.clone(),
                    now: now.repository.clone(),
                });
            }
            if !now.workflow.eq_ignore_ascii_case(&origin.workflow) {
                return TreeVerdict::Failed(TreeFailure::DowngradeOrigin {
                    earlier: version.clone(),
                    field: "workflow",
                    before: origin.workflow.clone(),
                    now: now.workflow.clone(),
                });
            }
            TreeVerdict::Verified
        }
    }
}

/// Among `versions` (with whether each announces provenance), the highest version lower than
/// `current` (semver precedence) that announces provenance.
pub fn previous_with_provenance<'a>(current: &str, versions: &'a BTreeMap<String, bool>) -> Option<&'a str> {
    let current = semver::Version::parse(current).ok()?;
    versions
        .iter()
        .filter(|(_, has)| **has)
        .filter_map(|(v, _)| semver::Version::parse(v).ok().map(|parsed| (parsed, v.as_str())))
        .filter(|(parsed, _)| *parsed < current)
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_uris_split_after_the_yaml_file_not_at_the_last_at() {
        let w = parse_workflow_uri("https://github.com/o/r/.github/workflows/release.yml@refs/tags/pkg@1.0.0").unwrap();
        assert_eq!(w.repository, "https://github.com/o/r");
        assert_eq!(w.path, ".github/workflows/release.yml");
        assert_eq!(w.git_ref, "refs/tags/pkg@1.0.0");
        let w = parse_workflow_uri("https://github.com/o/r/.github/workflows/a.yaml@refs/heads/rel@2").unwrap();
        assert_eq!((w.path, w.git_ref), (".github/workflows/a.yaml", "refs/heads/rel@2"));
        let w = parse_workflow_uri("https://gitlab.com/g/sub/p//.gitlab-ci.yml@refs/heads/main").unwrap();
        assert_eq!((w.repository, w.path), ("https://gitlab.com/g/sub/p", ".gitlab-ci.yml"));
        assert!(parse_workflow_uri("https://github.com/o/r/.github/workflows/release.yml").is_none());
        assert!(parse_workflow_uri("https://github.com/o/release.yml@x").is_none());
        assert!(parse_workflow_uri("http://github.com/o/r/a.yml@x").is_none());
    }

    #[test]
    fn repository_arguments_take_gh_and_url_forms() {
        for arg in
            ["o/r", "github.com/o/r", "https://github.com/o/r", "https://github.com/o/r.git", "https://github.com/o/r/"]
        {
            assert_eq!(repository_url(arg).as_deref(), Some("https://github.com/o/r"), "{arg}");
        }
        assert_eq!(repository_url("https://gitlab.com/g/sub/p").as_deref(), Some("https://gitlab.com/g/sub/p"));
        for bad in ["", "o", "http://github.com/o/r", "o/r/extra", "https://github.com/o", "o /r"] {
            assert_eq!(repository_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn signer_rules_compare_repository_and_path_structurally() {
        let uri = "https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/pkg@1.0.0";
        let same = Some("https://github.com/octo/pkg");
        assert!(check_signer(uri, &SignerRule::SameRepository, same, None).is_ok());
        assert!(check_signer(uri, &SignerRule::SameRepository, same, Some(".github/workflows/release.yml")).is_ok());
        assert!(check_signer(uri, &SignerRule::SameRepository, Some("https://github.com/octo/other"), None).is_err());
        assert!(check_signer(uri, &SignerRule::SameRepository, same, Some(".github/workflows/other.yml")).is_err());
        let evil = "https://github.com/someone-else/tools/.github/workflows/release.yml@refs/heads/main";
        assert!(check_signer(evil, &SignerRule::SameRepository, same, Some(".github/workflows/release.yml")).is_err());
        let (repository, path) = signer_workflow("someone-else/tools/.github/workflows/release.yml").unwrap();
        assert!(check_signer(evil, &SignerRule::Workflow { repository, path }, same, None).is_ok());
        // A longer file name sharing the prefix is another workflow.
        let longer = "https://github.com/octo/pkg/.github/workflows/release.yml.evil.yml@refs/heads/main";
        assert!(check_signer(longer, &SignerRule::SameRepository, same, Some(".github/workflows/release.yml")).is_err());
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(parse_strict_json(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        assert!(parse_strict_json(br#"{"a":1,"a":2}"#).unwrap_err().contains("duplicate key \"a\""));
        assert!(parse_strict_json(br#"{"s":[{"x":{"d":1,"d":1}}]}"#).is_err());
    }

    #[test]
    fn name_patterns_and_first_matching_rule() {
        assert!(name_matches("@scope/*", "@scope/a"));
        assert!(!name_matches("@scope/*", "@other/a"));
        assert!(name_matches("left-pad", "left-pad"));
        assert!(!name_matches("left-pad", "left-pads"));
        assert!(name_matches("*-plugin-*", "eslint-plugin-x"));
        let policy = TreePolicy::parse(
            br#"{"packages":[{"name":"@scope/*","repository":"scope/mono"},{"name":"old","exempt":"hand-published"}]}"#,
        )
        .unwrap();
        assert_eq!(
            expectation(&policy, "@scope/a", Some("https://github.com/elsewhere/x")),
            Expectation::Origin {
                repository: Some("https://github.com/scope/mono".into()),
                signer: SignerRule::SameRepository,
                workflow: None,
                from_policy: true
            }
        );
        assert_eq!(expectation(&policy, "old", None), Expectation::Exempt { reason: "hand-published".into() });
        assert!(TreePolicy::parse(br#"{"packages":[{"name":"x","exempt":""}]}"#).is_err());
        assert!(TreePolicy::parse(br#"{"packages":[{"name":"x","repo":"o/r"}]}"#).is_err());
        assert!(TreePolicy::parse(br#"{"packages":[],"packages":[]}"#).is_err());
    }

    #[test]
    fn continuity_and_presence() {
        let a = ProvenanceOrigin::new(
            "https://github.com/o/r",
            "https://github.com/o/r/.github/workflows/r.yml@refs/tags/v1",
        );
        let b = ProvenanceOrigin::new(
            "https://github.com/o/r",
            "https://github.com/o/r/.github/workflows/r.yml@refs/tags/v2",
        );
        let history = History::Verified { version: "1.0.0".into(), origin: a.clone() };
        assert_eq!(judge(Some(&b), &history, false), TreeVerdict::Verified);
        assert!(matches!(judge(None, &history, false), TreeVerdict::Failed(TreeFailure::DowngradeMissing { .. })));
        let fork = ProvenanceOrigin::new("https://github.com/x/r", "https://github.com/x/r/.github/workflows/r.yml@v");
        assert!(matches!(
            judge(Some(&fork), &history, false),
            TreeVerdict::Failed(TreeFailure::DowngradeOrigin { field: "repository", .. })
        ));
        let other = ProvenanceOrigin::new("https://github.com/o/r", "https://github.com/o/r/.github/workflows/x.yml@v");
        assert!(matches!(
            judge(Some(&other), &history, false),
            TreeVerdict::Failed(TreeFailure::DowngradeOrigin { field: "workflow", .. })
        ));
        let unverifiable = History::Unverifiable { version: "1.0.0".into(), reason: "bad".into() };
        assert!(matches!(
            judge(Some(&b), &unverifiable, false),
            TreeVerdict::Failed(TreeFailure::HistoryUnverifiable { .. })
        ));
        assert!(matches!(judge(None, &unverifiable, false), TreeVerdict::Failed(TreeFailure::DowngradeMissing { .. })));
        assert_eq!(judge(None, &History::None, false), TreeVerdict::NoProvenance);
        assert_eq!(judge(None, &History::None, true), TreeVerdict::Failed(TreeFailure::ProvenanceRequired));
        let versions: BTreeMap<String, bool> =
            [("1.0.0", true), ("1.1.0", false), ("1.2.0", true), ("2.0.0", true), ("1.10.0", true)]
                .iter()
                .map(|(v, h)| ((*v).to_owned(), *h))
                .collect();
        assert_eq!(previous_with_provenance("1.11.0", &versions), Some("1.10.0"));
        assert_eq!(previous_with_provenance("1.0.0", &versions), None);
    }
}
