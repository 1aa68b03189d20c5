//! `npm-attest attest`: sign SLSA build provenance for an npm package, as
//! `npm publish --provenance` does, and write the Sigstore bundle.
//!
//! Order matters for the user: the identity token source is checked first (a missing
//! `id-token: write` fails in milliseconds, before packing or hashing), then the package is
//! read, then the network is used, and only a complete bundle is written.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::core::statement::{statement_bytes, Provider};
use crate::core::bundle::IN_TOTO_PAYLOAD_TYPE;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::fsutil::{parent_dir, rename, write_atomic};
use crate::http::{Http, RetryPolicy};
use crate::oidc::{self, TokenSource};
use crate::report;
use crate::secret::SecretString;
use crate::sigstore::{self, Content, Endpoints};
use crate::standin::{self, Standin, StandinOptions};
use crate::tarball::{self, PackageTarball};

#[derive(Debug, clap::Args)]
pub struct AttestArgs {
    /// A tarball made by `npm pack`, or a package directory (packed with `npm pack` first).
    #[arg(default_value = ".")]
    pub package: PathBuf,

    /// Where to write the bundle [default: `<tarball stem>.sigstore.json` next to the tarball,
    /// or in the current directory for a package directory].
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// The Sigstore instance: `public-good`, `local` (an in-process stand-in), or one base URL
    /// serving both the Fulcio and Rekor APIs (e.g. a running `serve-sigstore`).
    #[arg(long, value_name = "INSTANCE", default_value = "public-good")]
    pub sigstore: String,

    /// Override the Fulcio base URL.
    #[arg(long, value_name = "URL")]
    pub fulcio_url: Option<String>,

    /// Override the Rekor base URL.
    #[arg(long, value_name = "URL")]
    pub rekor_url: Option<String>,

    /// Sign with a local stand-in instead of public Sigstore (same as `--sigstore local`).
    #[arg(long)]
    pub dry_run: bool,

    /// An OIDC identity token for Fulcio (used when neither the GitHub Actions runtime nor
    /// SIGSTORE_ID_TOKEN provides one).
    #[arg(long, value_name = "TOKEN", value_parser = parse_secret)]
    pub identity_token: Option<SecretString>,

    /// With a local stand-in: where to write the trusted root that verifies the bundle
    /// [default: `trusted_root.json` next to the bundle].
    #[arg(long, value_name = "PATH")]
    pub trusted_root_out: Option<PathBuf>,

    /// Print one JSON object describing the result on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::new(text.to_owned()))
}

/// Which Sigstore to talk to.
#[derive(Debug)]
enum Instance {
    Remote(Endpoints),
    Local,
}

/// The resolved input: a tarball to attest, and where the results go.
#[derive(Debug)]
struct Plan {
    /// The tarball as it will be hashed (for a directory: inside a temporary directory
    /// until the bundle is written).
    tarball: PathBuf,
    /// Where a packed tarball is moved once signing succeeded (directory input only).
    tarball_final: Option<PathBuf>,
    bundle: PathBuf,
    /// Keeps the `npm pack` output alive until the end.
    _pack_dir: Option<tempfile::TempDir>,
}

pub async fn run(args: AttestArgs) -> anyhow::Result<()> {
    let vars: HashMap<String, String> = std::env::vars().collect();
    let env = move |key: &str| vars.get(key).cloned();
    let instance = resolve_instance(&args)?;

    // The token source first: no token means no point in packing or hashing.
    let token_source = match &instance {
        Instance::Remote(_) => Some(oidc::discover(&env, args.identity_token.clone())?),
        Instance::Local => {
            if let Some(token) = &args.identity_token {
                report::mask(token);
            }
            None
        }
    };

    let plan = plan(&args).await?;
    let path = plan.tarball.clone();
    let package = tokio::task::spawn_blocking(move || tarball::read(&path))
        .await
        .map_err(|e| fail(ExitKind::Internal, format!("the tarball reader stopped: {e}")))??;
    report::info(&format!(
        "Attesting {}@{} ({} bytes, sha512 {})",
        package.name,
        package.version,
        package.size,
        &package.sha512_hex()[..16]
    ));

    match instance {
        Instance::Remote(endpoints) => {
            let source = token_source.ok_or_else(|| oidc::missing_token(&env))?;
            let outcome = sign_remote(&endpoints, source, &package, &env).await?;
            finish(&args, &plan, &package, &endpoints, &outcome, None)
        }
        Instance::Local => {
            let standin = Standin::start(StandinOptions { listen: SocketAddr::from(([127, 0, 0, 1], 0)) })
                .await
                .map_err(|e| fail(ExitKind::Internal, format!("cannot start the local Sigstore stand-in: {e:#}")))?;
            let result = sign_local(&args, &standin, &plan, &package, &env).await;
            standin.shutdown().await;
            result
        }
    }
}

fn resolve_instance(args: &AttestArgs) -> anyhow::Result<Instance> {
    let local = args.dry_run || args.sigstore == "local";
    if local {
        if args.fulcio_url.is_some() || args.rekor_url.is_some() {
            return Err(fail(ExitKind::BadInput, "--fulcio-url and --rekor-url cannot be used with --dry-run or --sigstore local"));
        }
        return Ok(Instance::Local);
    }
    if args.trusted_root_out.is_some() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            "--trusted-root-out only applies to the local stand-in",
            "use --dry-run, or take the trusted root from the Sigstore instance you sign with",
        ));
    }
    let mut endpoints = match args.sigstore.as_str() {
        "public-good" => Endpoints::public_good(),
        url => {
            let base = check_url("--sigstore", url)?;
            Endpoints { fulcio: base.clone(), rekor: base }
        }
    };
    if let Some(url) = &args.fulcio_url {
        endpoints.fulcio = check_url("--fulcio-url", url)?;
    }
    if let Some(url) = &args.rekor_url {
        endpoints.rekor = check_url("--rekor-url", url)?;
    }
    Ok(Instance::Remote(endpoints))
}

fn check_url(flag: &str, text: &str) -> anyhow::Result<String> {
    match url::Url::parse(text) {
        Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(text.trim_end_matches('/').to_owned()),
        _ => Err(fail_with_hint(
            ExitKind::BadInput,
            format!("{flag} {text:?} is not an http(s) URL"),
            "use `public-good`, `local`, or a base URL such as http://127.0.0.1:8080",
        )),
    }
}

/// Works out the tarball (packing a directory) and the output paths.
async fn plan(args: &AttestArgs) -> anyhow::Result<Plan> {
    let input = &args.package;
    let meta = std::fs::metadata(input).map_err(|e| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("cannot read {}: {e}", input.display()),
            "pass a tarball made by `npm pack` or a package directory",
        )
    })?;
    if meta.is_dir() {
        // The packed tarball is kept next to the bundle; it is packed into a temporary
        // directory there and moved into place only when the bundle is written.
        let out_dir = args.output.as_deref().map(parent_dir).unwrap_or_else(|| PathBuf::from("."));
        let pack_dir = tempfile::Builder::new().prefix(".npm-attest-pack-").tempdir_in(&out_dir).map_err(|e| {
            fail(ExitKind::Environment, format!("cannot create a temporary directory in {}: {e}", out_dir.display()))
        })?;
        report::info(&format!("Packing {} with `npm pack`", input.display()));
        let packed = tarball::npm_pack(input, pack_dir.path()).await?;
        let file_name = packed.file_name().map(|n| n.to_owned()).unwrap_or_default();
        let tarball_final = in_dir(&out_dir, &file_name.to_string_lossy());
        let bundle = args.output.clone().unwrap_or_else(|| in_dir(&out_dir, &bundle_name(Path::new(&file_name))));
        Ok(Plan { tarball: packed, tarball_final: Some(tarball_final), bundle, _pack_dir: Some(pack_dir) })
    } else {
        let bundle = args.output.clone().unwrap_or_else(|| input.with_file_name(bundle_name(input)));
        Ok(Plan { tarball: input.clone(), tarball_final: None, bundle, _pack_dir: None })
    }
}

/// `dir/name`, or just `name` for the current directory (so messages show `name`).
fn in_dir(dir: &Path, name: &str) -> PathBuf {
    if dir == Path::new(".") {
        PathBuf::from(name)
    } else {
        dir.join(name)
    }
}

/// `<stem>.sigstore.json` for `<stem>.tgz` (or `.tar.gz`).
fn bundle_name(tarball: &Path) -> String {
    let name = tarball.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "package".into());
    let stem = name
        .strip_suffix(".tgz")
        .or_else(|| name.strip_suffix(".tar.gz"))
        .unwrap_or(&name)
        .to_owned();
    format!("{stem}.sigstore.json")
}

struct Signed {
    bundle: crate::core::bundle::Bundle,
    provider: Provider,
}

/// Signs against a remote Fulcio/Rekor with a token from the CI (or the flag).
async fn sign_remote(
    endpoints: &Endpoints,
    source: TokenSource,
    package: &PackageTarball,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Signed> {
    let http = Http::new(RetryPolicy::default())?;
    let described = source.describe();
    let token = oidc::fetch(&http, source).await?;
    let provider = Provider::detect(env);
    let statement = statement_bytes(provider, &package.subject(), env);
    sign_statement(&http, endpoints, &token, described, &statement, provider).await
}

async fn sign_statement(
    http: &Http,
    endpoints: &Endpoints,
    token: &SecretString,
    token_source: &str,
    statement: &[u8],
    provider: Provider,
) -> anyhow::Result<Signed> {
    let (jwt, warnings) = oidc::inspect(token, token_source, sigstore::now()?)?;
    for w in warnings {
        report::warn(&w);
    }
    report::debug(&format!(
        "identity: iss {:?}, sub {:?}",
        jwt.str_claim("iss").unwrap_or("-"),
        jwt.str_claim("sub").unwrap_or("-")
    ));
    let content = Content::Dsse { payload_type: IN_TOTO_PAYLOAD_TYPE, payload: statement };
    let bundle = sigstore::sign(http, endpoints, token, content).await?;
    Ok(Signed { bundle, provider })
}

/// Signs against an in-process stand-in, minting a token whose claims match the statement.
async fn sign_local(
    args: &AttestArgs,
    standin: &Standin,
    plan: &Plan,
    package: &PackageTarball,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let base = standin.base_url().to_owned();
    let endpoints = Endpoints { fulcio: base.clone(), rekor: base };
    let http = Http::new(RetryPolicy::NONE)?;
    let now = sigstore::now()?;
    let (token, token_source, claims) = match &args.identity_token {
        Some(token) => (token.clone(), "--identity-token", Map::new()),
        None => {
            let claims = standin::github_actions_claims(env, now);
            let token = standin.mint_token(claims.clone());
            report::mask(&token);
            (token, "the local stand-in", claims)
        }
    };
    // The statement reads the same facts the token carries: the real variable when set,
    // else the claim the stand-in made up for it.
    let statement_env = |key: &str| env(key).or_else(|| claim_for_variable(&claims, key));
    let provider = Provider::detect(&statement_env);
    let statement = statement_bytes(provider, &package.subject(), &statement_env);
    let signed = sign_statement(&http, &endpoints, &token, token_source, &statement, provider).await?;
    let trusted_root =
        args.trusted_root_out.clone().unwrap_or_else(|| in_dir(&parent_dir(&plan.bundle), "trusted_root.json"));
    let root_json = serde_json::to_vec_pretty(standin.trusted_root())
        .map_err(|e| fail(ExitKind::Internal, format!("cannot serialize the trusted root: {e}")))?;
    finish(args, plan, package, &endpoints, &signed, Some((&trusted_root, root_json)))
}

/// The GitHub variable a GitHub Actions token claim stands for (github-actions.md, Appendix A).
fn claim_for_variable(claims: &Map<String, Value>, variable: &str) -> Option<String> {
    let claim = match variable {
        "GITHUB_SERVER_URL" => return (!claims.is_empty()).then(|| "https://github.com".to_owned()),
        "GITHUB_REPOSITORY" => "repository",
        "GITHUB_REPOSITORY_ID" => "repository_id",
        "GITHUB_REPOSITORY_OWNER_ID" => "repository_owner_id",
        "GITHUB_EVENT_NAME" => "event_name",
        "GITHUB_REF" => "ref",
        "GITHUB_SHA" => "sha",
        "GITHUB_WORKFLOW_REF" => "workflow_ref",
        "GITHUB_RUN_ID" => "run_id",
        "GITHUB_RUN_ATTEMPT" => "run_attempt",
        "RUNNER_ENVIRONMENT" => "runner_environment",
        _ => return None,
    };
    match claims.get(claim)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Writes the results (trusted root, tarball, bundle last) and reports them.
fn finish(
    args: &AttestArgs,
    plan: &Plan,
    package: &PackageTarball,
    endpoints: &Endpoints,
    signed: &Signed,
    trusted_root: Option<(&PathBuf, Vec<u8>)>,
) -> anyhow::Result<()> {
    let bundle_bytes = sigstore::bundle_json(&signed.bundle)?;
    let log_index = signed.bundle.verification_material.tlog_entries.first().map(|e| e.log_index).unwrap_or_default();
    let tlog_url = endpoints.transparency_log_url(log_index);
    if let Some((path, bytes)) = &trusted_root {
        write_atomic(path, bytes)?;
    }
    let tarball_path = match &plan.tarball_final {
        Some(final_path) => {
            rename(&plan.tarball, final_path)?;
            final_path.clone()
        }
        None => plan.tarball.clone(),
    };
    write_atomic(&plan.bundle, &bundle_bytes)?;

    report::info(&format!(
        "Signed provenance statement with source and build information from {}",
        signed.provider.display_name()
    ));
    report::info(&format!("Provenance statement published to transparency log: {tlog_url}"));
    if plan.tarball_final.is_some() {
        report::info(&format!("Tarball: {}", tarball_path.display()));
    }
    if let Some((path, _)) = &trusted_root {
        report::info(&format!("Trusted root: {}", path.display()));
    }
    report::info(&format!("Bundle: {}", plan.bundle.display()));
    if args.json {
        let mut out = json!({
            "bundle": plan.bundle.display().to_string(),
            "tarball": tarball_path.display().to_string(),
            "package": {"name": package.name.as_str(), "version": package.version.as_str()},
            "subject": {"name": package.purl(), "sha512": package.sha512_hex()},
            "integrity": package.integrity(),
            "shasum": package.shasum(),
            "logIndex": log_index,
            "transparencyLogUrl": tlog_url,
            "fulcioUrl": endpoints.fulcio,
            "rekorUrl": endpoints.rekor,
        });
        if let (Some((path, _)), Some(obj)) = (&trusted_root, out.as_object_mut()) {
            obj.insert("trustedRoot".into(), Value::String(path.display().to_string()));
        }
        report::data(&out.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_names_follow_the_tarball() {
        assert_eq!(bundle_name(Path::new("dir/hello-npm-1.0.0.tgz")), "hello-npm-1.0.0.sigstore.json");
        assert_eq!(bundle_name(Path::new("x.tar.gz")), "x.sigstore.json");
        assert_eq!(bundle_name(Path::new("weird")), "weird.sigstore.json");
    }

    #[test]
    fn claims_stand_in_for_unset_variables() {
        let claims: Map<String, Value> = serde_json::from_value(json!({
            "repository": "o/r", "run_id": "12", "run_attempt": 1, "workflow_ref": "o/r/.github/workflows/w.yml@refs/heads/main"
        }))
        .unwrap();
        assert_eq!(claim_for_variable(&claims, "GITHUB_REPOSITORY").as_deref(), Some("o/r"));
        assert_eq!(claim_for_variable(&claims, "GITHUB_RUN_ATTEMPT").as_deref(), Some("1"));
        assert_eq!(claim_for_variable(&claims, "GITHUB_SERVER_URL").as_deref(), Some("https://github.com"));
        assert_eq!(claim_for_variable(&claims, "GITHUB_SHA"), None);
        assert_eq!(claim_for_variable(&Map::new(), "GITHUB_SERVER_URL"), None);
    }
}
