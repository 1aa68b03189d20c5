//! `npm-attest publish`: publish an npm package with signed provenance, as
//! `npm publish --provenance` does, and more carefully.
//!
//! Order matters: everything that can be known without signing is checked first (the identity
//! token source, the tarball and package.json, what the registry would refuse with a 422, the
//! version not being on the registry yet, the access needed for provenance), then the bundle
//! is signed, then verified with the identity of our own token against the instance's trusted
//! root, and only a bundle that verifies is uploaded. If the upload finally fails, the bundle
//! is kept on disk and the message says how to publish it with `--bundle` without signing again.
//!
//! [`publish_package`] is the whole per-package pipeline; `run` only sets up what packages
//! share (the signer, the registry client) around it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::ci::visibility::event_visibility;
use crate::cmd::batch::{self, bounded, error_text};
use crate::cmd::release_tags::{announce, Released};
use crate::core::npm::pack::Manager;
use crate::core::npm::preflight::{check_manifest, check_provenance, BuildFacts, PreflightError};
use crate::core::npm::publish::{build_document, classify_refusal, PublishInput, PublishRefusal};
use crate::core::npm::repository::normalize_repository;
use crate::core::npm::trusted::{read_id_token, IdTokenProblem, Platform, Publisher};
use crate::core::npm::PackageName;
use crate::core::verify::{IdentityPolicy, NpmPackage, Policy};
use crate::core::well_known::{GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER};
use crate::core::wire::bundle::Bundle;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::fsutil::write_atomic;
use crate::http::{Http, RetryPolicy};
use crate::npm::pack::{check_signable, move_file};
use crate::npm::registry::{self, AuthPlan, Registry};
use crate::npm::tarball::{self, PackageTarball};
use crate::report;
use crate::secret::SecretString;
use crate::sigstore::self_check::{check_bundle, SelfCheck, SelfCheckTrust};
use crate::sigstore::signer::SignedBundle;
use crate::sigstore::signer::{capture_env, parse_secret, Env, Signer, SignerPlan, SigstoreArgs};
use crate::sigstore::trust::read_trusted_root;

/// The largest tarball published (the public registry's own limit is lower).
const MAX_TARBALL_BYTES: u64 = tarball::MAX_TARBALL_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Access {
    Public,
    Restricted,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Restricted => "restricted",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Tarballs made by `npm pack`, or package directories (packed first by the project's
    /// package manager, into a private temporary directory).
    /// With `--workspaces`: the project root whose package.json lists the workspaces.
    #[arg(default_value = ".", value_name = "PACKAGE")]
    pub packages: Vec<PathBuf>,

    /// Publish every workspace package of the project (the root package.json's `workspaces`
    /// globs, as npm reads them); private packages are skipped as `npm publish` skips them.
    #[arg(long)]
    pub workspaces: bool,

    /// How many packages are checked, signed and uploaded at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    /// The registry [default: from .npmrc, else https://registry.npmjs.org/].
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,

    /// The dist-tag to publish under [default: latest]. With --from-pack-dir each package's
    /// comes from publish-plan.json instead.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Package access; provenance on a new scoped package needs `public`. With
    /// --from-pack-dir each package's comes from publish-plan.json instead.
    #[arg(long, value_enum)]
    pub access: Option<Access>,

    /// A one-time password for registries that require two-factor authentication.
    #[arg(long, value_name = "CODE", value_parser = parse_secret)]
    pub otp: Option<SecretString>,

    /// Publish without a provenance attestation (always on CircleCI, as npm does there).
    #[arg(long)]
    pub no_provenance: bool,

    /// Publish with this already-signed bundle instead of signing again (it must be about this
    /// exact tarball, name the package's repository, and verify).
    #[arg(long, value_name = "PATH", conflicts_with = "no_provenance")]
    pub bundle: Option<PathBuf>,

    /// Pack package directories with this package manager instead of the detected one
    /// (`packageManager` field, then lockfiles).
    #[arg(long, value_enum, value_name = "MANAGER")]
    pub package_manager: Option<Manager>,

    /// Publish the tarballs `changeset pack --out-dir DIR` wrote (changesets 3), in the order
    /// of DIR/publish-plan.json, after checking each against the plan's sha256 integrity, each
    /// with the plan's dist-tag and access.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["workspaces", "bundle"])]
    pub from_pack_dir: Option<PathBuf>,

    /// Create a git tag `<name>@<version>` for each version published (as `changeset tag`
    /// does). Without it, tags are left to the caller; `New tag:` lines and the
    /// `CHANGESETS_OUTPUT` events are written either way.
    #[arg(long)]
    pub git_tag: bool,

    #[command(flatten)]
    pub sigstore: SigstoreArgs,

    /// Print one JSON object describing the result on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What every package of a run shares.
pub struct Context {
    pub env: Env,
    pub http: Http,
    /// Where `.npmrc` is looked for first (the package directory, or the current directory).
    pub project_dir: PathBuf,
    pub registry_flag: Option<String>,
    /// `--tag`, when given.
    pub tag: Option<String>,
    /// `--access`, when given.
    pub access: Option<Access>,
    pub otp: Option<SecretString>,
    pub provenance: bool,
    pub bundle: Option<PathBuf>,
    pub trusted_root: Option<PathBuf>,
    /// Where public-good's (or `--tuf-url`'s) trust material comes from, for `--bundle`.
    pub tuf: crate::sigstore::tuf::TufArgs,
    /// Local stand-in: where to write its trusted root (`--trusted-root-out`).
    pub trusted_root_out: Option<PathBuf>,
    pub dry_run: bool,
    /// In a batch, a version already on the registry is skipped (a line each), not refused.
    pub skip_existing: bool,
    /// Where a bundle is kept when an upload fails.
    pub keep_dir: PathBuf,
    signer: LazySigner,
}

/// The signer, started only when the first package passed its preflight.
struct LazySigner {
    plan: std::sync::Mutex<Option<SignerPlan>>,
    signer: tokio::sync::OnceCell<Signer>,
    /// Why the one start failed (exit kind and message), for the other packages of a batch.
    failure: std::sync::Mutex<Option<(ExitKind, String)>>,
}

impl LazySigner {
    fn new(plan: Option<SignerPlan>) -> Self {
        Self {
            plan: std::sync::Mutex::new(plan),
            signer: tokio::sync::OnceCell::new(),
            failure: std::sync::Mutex::new(None),
        }
    }

    async fn get(&self) -> anyhow::Result<&Signer> {
        self.signer
            .get_or_try_init(|| async {
                let plan =
                    self.plan.lock().map_err(|_| fail(ExitKind::Internal, "the signer lock is poisoned"))?.take();
                let Some(plan) = plan else {
                    // The plan is used once: a start that failed is not tried again.
                    let failure =
                        self.failure.lock().map_err(|_| fail(ExitKind::Internal, "the signer lock is poisoned"))?;
                    return Err(match failure.as_ref() {
                        Some((kind, text)) => fail(*kind, format!("the signer could not be started: {text}")),
                        None => fail(ExitKind::Internal, "no signer was planned"),
                    });
                };
                let started = plan.start().await;
                if let (Err(e), Ok(mut failure)) = (&started, self.failure.lock()) {
                    *failure = Some((crate::error::classify(e).0, error_text(e)));
                }
                started
            })
            .await
    }

    async fn shutdown(self) {
        if let Some(signer) = self.signer.into_inner() {
            signer.shutdown().await;
        }
    }
}

/// One package to publish: the tarball as read and hashed (its package.json included) and
/// its bytes.
pub struct PackageInput {
    pub tarball: PackageTarball,
    pub bytes: Vec<u8>,
    /// A tarball packed from a directory (moved next to a kept bundle if the upload fails).
    pub packed: bool,
    /// The package directory it was packed from, whose `.npmrc` is read instead of the one in
    /// the run's `Context::project_dir` (not for workspaces: npm reads the project root's).
    pub project_dir: Option<PathBuf>,
    /// The package directory it was packed from.
    pub packed_from: Option<PathBuf>,
    /// What a changesets publish plan decided for this package (`--from-pack-dir`).
    pub planned: Option<Planned>,
}

/// A publish plan's entry for one tarball: who it must be, and how it is published.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub version: String,
    pub tag: Option<String>,
    pub access: Option<Access>,
    /// The plan file, for messages.
    pub plan: PathBuf,
}

impl PackageInput {
    /// The dist-tag of this package, as npm decides it: `--tag`, else the package.json's
    /// `publishConfig.tag`, else `latest`; with a publish plan, the plan's (which may not be
    /// combined with `--tag`).
    fn tag<'a>(&'a self, ctx: &'a Context) -> &'a str {
        self.planned
            .as_ref()
            .and_then(|p| p.tag.as_deref())
            .or(ctx.tag.as_deref())
            .or_else(|| self.publish_config("tag"))
            .unwrap_or("latest")
    }

    /// The access of this package, as npm decides it: `--access`, else `publishConfig.access`,
    /// else unset (the registry's default); with a publish plan, the plan's.
    fn access(&self, ctx: &Context) -> Option<&'static str> {
        self.planned
            .as_ref()
            .and_then(|p| p.access)
            .or(ctx.access)
            .or_else(|| match self.publish_config("access") {
                Some("public") => Some(Access::Public),
                Some("restricted") => Some(Access::Restricted),
                _ => None,
            })
            .map(Access::as_str)
    }

    /// A string in the packed package.json's `publishConfig` (npm reads it as configuration
    /// for the publish, below the command line).
    fn publish_config(&self, key: &str) -> Option<&str> {
        self.tarball.manifest.get("publishConfig")?.get(key)?.as_str().filter(|v| !v.trim().is_empty())
    }
}

/// What a publish did.
#[derive(Debug)]
pub struct Published {
    pub name: String,
    pub version: String,
    pub registry: String,
    pub tag: String,
    pub access: Option<&'static str>,
    pub integrity: String,
    /// `(attachment name, bytes)`.
    pub attachments: Vec<(String, usize)>,
    pub transparency_log_url: Option<String>,
    pub dry_run: bool,
}

pub async fn run(mut args: PublishArgs) -> anyhow::Result<()> {
    let env = capture_env();
    if !args.no_provenance && args.bundle.is_none() && ci_without_provenance(&|key: &str| env.get(key).cloned()) {
        args.no_provenance = true;
    }
    let provenance = !args.no_provenance;
    // The identity token source first: no token means no point in packing or hashing.
    let plan =
        if provenance && args.bundle.is_none() { Some(SignerPlan::new(&args.sigstore, env.clone())?) } else { None };
    if let Some(dir) = &args.from_pack_dir {
        // As `changeset publish --from-pack-dir` refuses a custom tag ("not allowed in artifact
        // mode"): the plan fixed each package's tag and access when it was packed, and a value
        // given now would silently disagree with it.
        for (flag, given) in [("--tag", args.tag.is_some()), ("--access", args.access.is_some())] {
            if given {
                return Err(fail_with_hint(
                    ExitKind::BadInput,
                    format!("{flag} cannot be used with --from-pack-dir: publish-plan.json gives each package's dist-tag and access"),
                    "leave it out; the plan's values come from `changeset pack` (pre-release mode's tag, publishConfig.access or the changesets config's access)",
                ));
            }
        }
        let (inputs, planned) = from_pack_dir(dir)?;
        return run_batch(&args, env, plan, &inputs, &planned).await;
    }
    let inputs = batch::inputs(&args.packages, args.workspaces)?;
    match inputs.as_slice() {
        [one] if !args.workspaces => run_one(&args, env, plan, one).await,
        _ if args.bundle.is_some() => Err(fail_with_hint(
            ExitKind::BadInput,
            "--bundle is about one package but several were given",
            "publish the package of that bundle on its own",
        )),
        _ => run_batch(&args, env, plan, &inputs, &std::collections::HashMap::new()).await,
    }
}

/// CircleCI: npm publishes without provenance there (its statement forms and auto-provenance
/// cover GitHub Actions and GitLab only, `libnpmpublish/lib/provenance.js`, `lib/utils/oidc.js`;
/// npm docs: "Provenance generation is not currently supported for CircleCI"), and so does
/// npm-attest, saying so.
fn ci_without_provenance(env: &dyn Fn(&str) -> Option<String>) -> bool {
    match Platform::detect(env) {
        Some(platform) if !platform.has_provenance() => {
            report::warn(&format!(
                "{}: publishing without provenance, as npm does there (npm and its registry make provenance only on GitHub Actions and GitLab CI/CD)",
                platform.display_name()
            ));
            true
        }
        _ => false,
    }
}

/// The tarballs of a changesets 3 pack directory, in plan order, each checked against the
/// plan's sha256 integrity (the bytes signed are the bytes changesets packed), and what the
/// plan says of each.
fn from_pack_dir(dir: &Path) -> anyhow::Result<(Vec<PathBuf>, std::collections::HashMap<PathBuf, Planned>)> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let plan_path = dir.join("publish-plan.json");
    let bytes = std::fs::read(&plan_path).map_err(|e| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("cannot read {}: {e}", plan_path.display()),
            "pass the directory `changeset pack --out-dir DIR` wrote",
        )
    })?;
    let planned = crate::core::npm::changesets::parse_publish_plan(&bytes)
        .map_err(|e| fail(ExitKind::BadInput, format!("{}: {e}", plan_path.display())))?;
    let mut out = Vec::with_capacity(planned.len());
    let mut settings = std::collections::HashMap::new();
    for entry in planned {
        let path =
            if Path::new(&entry.path).is_absolute() { PathBuf::from(&entry.path) } else { dir.join(&entry.path) };
        let tarball = std::fs::read(&path).map_err(|e| {
            fail(ExitKind::BadInput, format!("{}@{}: cannot read {}: {e}", entry.name, entry.version, path.display()))
        })?;
        let actual =
            format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&tarball)));
        if actual != entry.integrity {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                format!(
                    "{}@{}: {} does not match the publish plan (plan {}, file {actual})",
                    entry.name,
                    entry.version,
                    path.display(),
                    entry.integrity
                ),
                "run `changeset pack` again; the tarball changed after it was packed",
            ));
        }
        let access = entry.access.map(|a| match a {
            crate::core::npm::changesets::PlanAccess::Public => Access::Public,
            crate::core::npm::changesets::PlanAccess::Restricted => Access::Restricted,
        });
        settings.insert(
            path.clone(),
            Planned { name: entry.name, version: entry.version, tag: entry.tag, access, plan: plan_path.clone() },
        );
        out.push(path);
    }
    if out.is_empty() {
        report::info(&format!("{} lists nothing to publish", plan_path.display()));
    }
    Ok((out, settings))
}

/// One package: the original single-package flow and output.
async fn run_one(args: &PublishArgs, env: Env, plan: Option<SignerPlan>, package: &Path) -> anyhow::Result<()> {
    // A package directory's `.npmrc` is read through `input.project_dir`.
    let (input, _pack_dir) = load(package, args.package_manager).await?;
    let project_dir = PathBuf::from(".");
    let ctx = Context::new(args, env, project_dir, plan)?;
    let result = publish_package(&ctx, &input).await;
    let lookup = |key: &str| ctx.env.get(key).cloned();
    let announced = match &result {
        Ok(p) if !p.dry_run => {
            let released = [Released { name: &p.name, version: &p.version }];
            announce(&released, &lookup, !args.json, args.git_tag)
        }
        _ => Ok(()),
    };
    ctx.shutdown().await;
    let published = result?;
    if args.json {
        report::data(&published_json(&published).to_string());
    }
    announced
}

/// The outcome for one package of a batch.
enum Outcome {
    Published(Published),
    /// The version is on the registry already.
    Skipped {
        name: String,
        version: String,
        registry: String,
    },
    Failed {
        label: String,
        error: anyhow::Error,
    },
}

/// A version already on the registry, found by the preflight of a batch.
#[derive(Debug)]
pub struct AlreadyPublished {
    pub name: String,
    pub version: String,
    pub registry: String,
}

impl std::fmt::Display for AlreadyPublished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{} is already on {}", self.name, self.version, self.registry)
    }
}

impl std::error::Error for AlreadyPublished {}

/// Several packages with one signer. Every package is packed and read, then every package runs
/// its preflight, and only then are the ones that passed signed (by the one signer, started
/// when the first of them needs it) and uploaded; at most `--concurrency` at a time in each
/// step. A package refused or failing is reported and the others still complete.
async fn run_batch(
    args: &PublishArgs,
    env: Env,
    plan: Option<SignerPlan>,
    packages: &[PathBuf],
    planned: &std::collections::HashMap<PathBuf, Planned>,
) -> anyhow::Result<()> {
    report::info(&format!("Publishing {} packages ({} at a time, one certificate)", packages.len(), args.concurrency));
    let limit = args.concurrency as usize;
    // `.npmrc` of the project root for workspaces (npm reads it there), else of the current directory.
    let project_dir = match (args.workspaces, args.packages.as_slice()) {
        (true, [root]) => root.clone(),
        _ => PathBuf::from("."),
    };
    let mut ctx = Context::new(args, env, project_dir, plan)?;
    ctx.skip_existing = true;
    let ctx = Arc::new(ctx);

    // Packing and reading, in parallel.
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    let paths: Vec<Result<PathBuf, Outcome>> = packages.iter().cloned().map(Ok).collect();
    let manager = args.package_manager;
    let read = bounded(cores, paths, |package: PathBuf| async move {
        let result = load(&package, manager).await;
        (package, result)
    })
    .await?;
    let mut pack_dirs = Vec::new();
    let mut loaded: Vec<Result<PackageInput, Outcome>> = Vec::with_capacity(packages.len());
    let mut seen = std::collections::HashSet::new();
    for item in read {
        loaded.push(match item {
            Ok((package, Ok((mut input, dir)))) => {
                pack_dirs.extend(dir);
                if args.workspaces {
                    input.project_dir = None;
                }
                let label = label(&input);
                input.planned = planned.get(&package).cloned();
                // The plan's settings are for the package it names: a tarball holding another
                // is not published under them.
                if let Some(p) = input.planned.as_ref().filter(|p| label != format!("{}@{}", p.name, p.version)) {
                    let error = fail_with_hint(
                        ExitKind::BadInput,
                        format!(
                            "{} holds {label}, but {} lists it as {}@{}",
                            package.display(),
                            p.plan.display(),
                            p.name,
                            p.version
                        ),
                        "run `changeset pack` again",
                    );
                    loaded.push(Err(Outcome::Failed { label, error }));
                    continue;
                }
                // A version can be published once: a second copy in the batch would be signed
                // and logged for nothing.
                if seen.insert(label.clone()) {
                    Ok(input)
                } else {
                    let error = fail_with_hint(
                        ExitKind::BadInput,
                        format!("{label} is given more than once"),
                        "give each package once",
                    );
                    Err(Outcome::Failed { label, error })
                }
            }
            Ok((package, Err(error))) => Err(Outcome::Failed { label: package.display().to_string(), error }),
            Err(outcome) => Err(outcome),
        });
    }

    // Preflight for every package before anything is signed.
    let checked = bounded(limit, loaded, {
        let ctx = Arc::clone(&ctx);
        move |input: PackageInput| {
            let ctx = Arc::clone(&ctx);
            async move {
                let checked = preflight(&ctx, &input).await;
                (input, checked)
            }
        }
    })
    .await?;
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(checked.len());
    let mut ready: Vec<(usize, PackageInput, Checked)> = Vec::new();
    for item in checked {
        outcomes.push(match item {
            Ok((input, Ok(checked))) => {
                ready.push((outcomes.len(), input, checked));
                None
            }
            Ok((input, Err(error))) => Some(match error.downcast_ref::<AlreadyPublished>() {
                Some(a) => {
                    Outcome::Skipped { name: a.name.clone(), version: a.version.clone(), registry: a.registry.clone() }
                }
                None => Outcome::Failed { label: label(&input), error },
            }),
            Err(outcome) => Some(outcome),
        });
    }

    // The plan, before anything is signed: dependencies before dependents, in layers.
    let nodes: Vec<(String, std::collections::BTreeSet<String>)> = ready
        .iter()
        .map(|(_, input, _)| {
            (input.tarball.name.to_string(), crate::core::npm::order::dependency_names(&input.tarball.manifest))
        })
        .collect();
    let (layers, cycles) = crate::core::npm::order::layers(&nodes);
    for cycle in &cycles {
        report::warn(&format!(
            "dependency cycle between {}: they are published together, so one may briefly point at a version not yet on the registry",
            cycle.join(", ")
        ));
    }
    for outcome in outcomes.iter().flatten() {
        if let Outcome::Skipped { name, version, registry } = outcome {
            report::info(&format!("Skipping {name}@{version}: already on {registry}"));
        }
    }
    if ready.is_empty() {
        report::info("Nothing to publish: every version is already on the registry or was refused");
    } else {
        let mut step = 0;
        let mut lines = Vec::new();
        for layer in &layers {
            for &i in layer {
                step += 1;
                if let Some((_, input, _)) = ready.get(i) {
                    lines.push(format!("  {step}. {}", label(input)));
                }
            }
        }
        let verb = if ctx.dry_run { "Would publish" } else { "Publishing" };
        report::info(&format!("{verb}, dependencies first:\n{}", lines.join("\n")));
    }

    // Signing and uploading the packages that passed, one layer after the other.
    let mut slots: Vec<Option<(usize, PackageInput, Checked)>> = ready.into_iter().map(Some).collect();
    for layer in layers {
        let items: Vec<Result<(usize, PackageInput, Checked), Outcome>> =
            layer.iter().filter_map(|&i| slots.get_mut(i).and_then(Option::take)).map(Ok).collect();
        let done = bounded(limit, items, {
            let ctx = Arc::clone(&ctx);
            move |(slot, input, checked): (usize, PackageInput, Checked)| {
                let ctx = Arc::clone(&ctx);
                async move {
                    let outcome = match sign_and_upload(&ctx, &input, checked).await {
                        Ok(published) => Outcome::Published(published),
                        Err(error) => Outcome::Failed { label: label(&input), error },
                    };
                    (slot, outcome)
                }
            }
        })
        .await?;
        for (slot, outcome) in done.into_iter().flatten() {
            if let Some(place) = outcomes.get_mut(slot) {
                *place = Some(outcome);
            }
        }
    }
    let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    let env = ctx.env.clone();
    if let Some(ctx) = Arc::into_inner(ctx) {
        ctx.shutdown().await;
    }
    drop(pack_dirs);
    report_batch(args, &outcomes, &|key: &str| env.get(key).cloned())
}

/// `name@version` of a package.
fn label(input: &PackageInput) -> String {
    format!("{}@{}", input.tarball.name, input.tarball.version.as_str())
}

/// Packs a package directory (into a temporary directory kept by the caller) or takes a
/// tarball, and reads it.
async fn load(package: &Path, manager: Option<Manager>) -> anyhow::Result<(PackageInput, Option<tempfile::TempDir>)> {
    if !batch::is_dir(package)? {
        let input = read_input(package, false).await?;
        check_signable(&input.tarball)?;
        return Ok((input, None));
    }
    let packed = crate::npm::pack::pack(package, manager).await?;
    let mut input = read_input(&packed.tarball, true).await?;
    check_signable(&input.tarball)?;
    input.project_dir = Some(package.to_path_buf());
    input.packed_from = Some(package.to_path_buf());
    Ok((input, Some(packed.dir)))
}

/// Per-package lines and a summary (or one JSON object), and the exit status.
fn report_batch(args: &PublishArgs, outcomes: &[Outcome], env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    let succeeded = outcomes.iter().filter(|o| matches!(o, Outcome::Published(_))).count();
    let skipped = outcomes.iter().filter(|o| matches!(o, Outcome::Skipped { .. })).count();
    let failed = outcomes.len() - succeeded - skipped;
    if args.json {
        let entries = outcomes.iter().map(|o| match o {
            Outcome::Published(p) => Ok(published_json(p)),
            Outcome::Skipped { name, version, registry } => Ok(json!({
                "name": name, "version": version, "registry": registry, "skipped": true, "published": false,
            })),
            Outcome::Failed { label, error } => Err((label.as_str(), error)),
        });
        report::data(&batch::json_summary(entries).to_string());
    } else {
        for outcome in outcomes {
            match outcome {
                Outcome::Published(p) => {
                    let verb = if p.dry_run { "checked  " } else { "published" };
                    let log = p.transparency_log_url.as_deref().unwrap_or("no provenance");
                    report::data(&format!("{verb}  {}@{}  {}  ({log})", p.name, p.version, p.registry));
                }
                Outcome::Skipped { name, version, registry } => {
                    report::data(&format!("skipped    {name}@{version}  {registry}  (already on the registry)"));
                }
                Outcome::Failed { label, error } => report::data(&format!("failed     {label}: {}", error_text(error))),
            }
        }
        let verb = if args.sigstore.dry_run { "checked (dry run)" } else { "published" };
        report::data(&format!("{succeeded} {verb}, {skipped} skipped (already on the registry), {failed} failed"));
        if succeeded == 0 && failed == 0 {
            report::data("nothing to publish: every version is already on the registry");
        }
    }
    let released: Vec<Released<'_>> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Published(p) if !p.dry_run => Some(Released { name: &p.name, version: &p.version }),
            _ => None,
        })
        .collect();
    // A tag that could not be made is reported after the batch's own verdict.
    let announced = announce(&released, env, !args.json, args.git_tag);
    let failures: Vec<(&str, &anyhow::Error)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed { label, error } => Some((label.as_str(), error)),
            Outcome::Published(_) | Outcome::Skipped { .. } => None,
        })
        .collect();
    let hint = if succeeded > 0 {
        "the other packages were published; fix the ones named and publish them again"
    } else {
        "fix the packages named and publish them again"
    };
    batch::verdict(outcomes.len() - skipped, &failures, hint)?;
    announced
}

impl Context {
    /// What the packages of one run share; `plan` is started when the first package passed
    /// its preflight.
    pub fn new(args: &PublishArgs, env: Env, project_dir: PathBuf, plan: Option<SignerPlan>) -> anyhow::Result<Self> {
        if let Some(otp) = &args.otp {
            report::mask(otp);
        }
        Ok(Self {
            env,
            http: Http::new(RetryPolicy::default())?,
            project_dir,
            registry_flag: args.registry.clone(),
            tag: args.tag.clone(),
            access: args.access,
            otp: args.otp.clone(),
            provenance: !args.no_provenance,
            bundle: args.bundle.clone(),
            trusted_root: args.sigstore.trusted_root.clone(),
            tuf: args.sigstore.tuf.clone(),
            trusted_root_out: args.sigstore.trusted_root_out.clone(),
            dry_run: args.sigstore.dry_run,
            skip_existing: false,
            keep_dir: PathBuf::from("."),
            signer: LazySigner::new(plan),
        })
    }

    /// Stops the signer (the local stand-in), if one was started.
    pub async fn shutdown(self) {
        self.signer.shutdown().await;
    }
}

/// Reads, hashes and loads a tarball.
pub async fn read_input(path: &Path, packed: bool) -> anyhow::Result<PackageInput> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> anyhow::Result<PackageInput> {
        let tarball = tarball::read(&path)?;
        if tarball.size > MAX_TARBALL_BYTES {
            return Err(fail(
                ExitKind::BadInput,
                format!("{} is larger than {MAX_TARBALL_BYTES} bytes", path.display()),
            ));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| fail(ExitKind::BadInput, format!("cannot read {}: {e}", path.display())))?;
        // The bytes uploaded must be the bytes hashed (and signed over).
        if sha2_512(&bytes) != tarball.sha512 {
            return Err(fail(ExitKind::BadInput, format!("{} changed while it was being read", path.display())));
        }
        Ok(PackageInput { tarball, bytes, packed, project_dir: None, packed_from: None, planned: None })
    })
    .await
    .map_err(|e| fail(ExitKind::Internal, format!("the tarball reader stopped: {e}")))?
}

fn sha2_512(bytes: &[u8]) -> [u8; 64] {
    use sha2::Digest as _;
    sha2::Sha512::digest(bytes).into()
}

fn preflight_error(e: PreflightError) -> anyhow::Error {
    let kind = match e {
        PreflightError::UnsupportedRunner { .. } | PreflightError::PrivateSourceRepository { .. } => {
            ExitKind::Environment
        }
        _ => ExitKind::BadInput,
    };
    let hint = e.hint();
    fail_with_hint(kind, format!("refusing to publish: {e}"), hint)
}

/// The facts the registry will find in the certificate, as the CI environment tells them.
/// Outside a CI nothing is known (and nothing is checked).
fn build_facts(env: &dyn Fn(&str) -> Option<String>) -> BuildFacts {
    let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if set("GITHUB_ACTIONS").as_deref() == Some("true") {
        let server = set("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let visibility = set("GITHUB_EVENT_PATH").and_then(|p| event_visibility(Path::new(&p)));
        return BuildFacts {
            repository: set("GITHUB_REPOSITORY").map(|r| format!("{}/{r}", server.trim_end_matches('/'))),
            runner_environment: set("RUNNER_ENVIRONMENT"),
            repository_visibility: visibility,
        };
    }
    if set("GITLAB_CI").is_some() {
        return BuildFacts {
            repository: set("CI_PROJECT_URL"),
            runner_environment: None,
            repository_visibility: set("CI_PROJECT_VISIBILITY"),
        };
    }
    BuildFacts::default()
}

/// What the preflight of a package established for its upload.
pub struct Checked {
    registry_url: String,
    registry: Registry,
    token: Option<SecretString>,
    new_before_put: bool,
    /// What the preflight asked of the network, for the dry run's account of itself.
    contacted: Vec<String>,
}

/// Publishes one package: preflight, authentication, signing and verification, upload.
pub async fn publish_package(ctx: &Context, input: &PackageInput) -> anyhow::Result<Published> {
    let checked = preflight(ctx, input).await?;
    sign_and_upload(ctx, input, checked).await
}

/// A preflight refusal; one about access, for a package whose access a publish plan decided,
/// names the plan and the fix there (`--access` cannot be given with `--from-pack-dir`).
fn access_refusal(e: PreflightError, input: &PackageInput) -> anyhow::Error {
    match (&e, &input.planned) {
        (PreflightError::RestrictedUnscoped { .. } | PreflightError::AccessNotPublic { .. }, Some(p)) => {
            let access = p.access.map_or("no access".to_owned(), |a| format!("access \"{}\"", a.as_str()));
            fail_with_hint(
                ExitKind::BadInput,
                format!("refusing to publish: {e} ({} gives it {access})", p.plan.display()),
                "set \"publishConfig\": {\"access\": \"public\"} in its package.json (or \"access\": \"public\" in .changeset/config.json) and run `changeset pack` again",
            )
        }
        _ => preflight_error(e),
    }
}

/// Everything that can refuse a package before it is signed: package.json, the CI facts the
/// registry checks, authentication, the version being new and the access provenance needs.
pub async fn preflight(ctx: &Context, input: &PackageInput) -> anyhow::Result<Checked> {
    let lookup = |key: &str| ctx.env.get(key).cloned();
    let name = &input.tarball.name;
    let version = input.tarball.version.as_str();
    let access = input.access(ctx);
    report::info(&format!(
        "Publishing {name}@{version} ({}, {})",
        report::size(input.tarball.size),
        input.tarball.integrity()
    ));

    // Preflight, local: package.json and what the registry checks in the certificate.
    check_manifest(name.as_str(), &input.tarball.manifest, access).map_err(|e| access_refusal(e, input))?;
    let mut facts = build_facts(&lookup);
    if ctx.provenance {
        check_provenance(&input.tarball.manifest, &facts).map_err(preflight_error)?;
        if facts == BuildFacts::default() {
            report::warn("not in GitHub Actions or GitLab CI: the registry's repository, runner and visibility checks on provenance were not made ahead of time");
        }
    }

    // Authentication.
    let npmrc = registry::load_npmrc(input.project_dir.as_deref().unwrap_or(&ctx.project_dir), &lookup)?;
    let registry_url = registry::registry_url(ctx.registry_flag.as_deref(), &npmrc, &lookup, name)?;
    let registry = Registry::new(ctx.http.clone(), &registry_url);
    let auth = registry::plan_auth(&registry_url, &npmrc, &lookup)?;
    report::debug(&format!("registry {registry_url}, authentication: {}", auth.describe()));
    let mut contacted = Vec::new();
    let token = match &auth {
        AuthPlan::Token { token, .. } => Some(token.clone()),
        AuthPlan::None if ctx.dry_run => {
            report::warn(&format!("no token for {registry_url}: a real publish would fail"));
            None
        }
        AuthPlan::None => return Err(registry::missing_auth(&registry_url, &npmrc)),
        _ => {
            let (id_token, publisher) = trusted_publishing_identity(ctx, &registry, &auth, &mut contacted).await?;
            if ctx.provenance {
                // The token's claims are the facts Fulcio will certify.
                let claims =
                    crate::core::jwt::decode_unverified(id_token.expose()).map(|j| j.claims).unwrap_or_default();
                let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
                match publisher.platform() {
                    Platform::GitHubActions => {
                        facts.runner_environment = facts.runner_environment.or_else(|| claim("runner_environment"));
                        facts.repository_visibility = claim("repository_visibility").or(facts.repository_visibility);
                    }
                    Platform::GitLab => {
                        facts.repository_visibility = claim("project_visibility").or(facts.repository_visibility);
                    }
                    _ => {}
                }
                check_provenance(&input.tarball.manifest, &facts).map_err(preflight_error)?;
            }
            // The package must already exist (package-managers.md §6). Its packument, read as
            // anyone can, tells a first publish from a publisher mismatch when the exchange is
            // refused; it cannot stop the run by itself, because a private package is hidden from
            // anonymous reads and can still use trusted publishing. Before anything is signed.
            contacted.push(format!("{registry_url} (read {name}'s packument without a token)"));
            let visible = registry.packument(name, None).await?.is_some();
            report::info(&format!(
                "Trusted publishing: exchanging an identity token for {name} at {}",
                registry.host()
            ));
            contacted
                .push(format!("{} (trusted publishing: exchanged that token for a publish token)", registry.host()));
            Some(registry.exchange_oidc(name, &id_token, Some(visible), Some(&publisher)).await?)
        }
    };

    // Preflight, remote, before anything is signed: the version must be new; provenance on a
    // new scoped package needs public access (npm's `ensureProvenanceGeneration`). Without
    // provenance nothing would be wasted: the registry's own answer is shown instead.
    let packument =
        if ctx.provenance || ctx.skip_existing { registry.packument(name, token.as_ref()).await? } else { None };
    if ctx.provenance || ctx.skip_existing {
        contacted.push(format!("{registry_url} (read {name}'s versions)"));
    }
    if packument.as_ref().and_then(|p| p.get("versions")).and_then(|v| v.get(version)).is_some() {
        if ctx.skip_existing {
            return Err(anyhow::Error::new(AlreadyPublished {
                name: name.to_string(),
                version: version.to_owned(),
                registry: registry_url.clone(),
            }));
        }
        return Err(preflight_error(PreflightError::VersionExists {
            name: name.to_string(),
            version: version.to_owned(),
        }));
    }
    let new_before_put = ctx.provenance;
    if ctx.provenance && access != Some("public") && name.scope().is_some() {
        let public = match &packument {
            None => false,
            Some(_) => {
                contacted.push(format!("{registry_url} (read {name}'s visibility)"));
                registry.visibility(name, token.as_ref()).await?.unwrap_or(false)
            }
        };
        if !public {
            return Err(access_refusal(PreflightError::AccessNotPublic { name: name.to_string() }, input));
        }
    }

    Ok(Checked { registry_url, registry, token, new_before_put, contacted })
}

/// Trusted publishing's identity token, checked before it is exchanged (package-managers.md
/// §6): it must be one the registry accepts, from GitHub Actions, GitLab.com or CircleCI cloud,
/// with audience `npm:<registry host>`, not expired, for the project the job runs in. Returns
/// the token and what a trusted publisher must name.
async fn trusted_publishing_identity(
    ctx: &Context,
    registry: &Registry,
    auth: &AuthPlan,
    contacted: &mut Vec<String>,
) -> anyhow::Result<(SecretString, Publisher)> {
    let host = registry.host();
    let (source, platform_hint) = match auth {
        AuthPlan::TrustedPublishingActions { .. } => {
            contacted.push("the GitHub Actions OIDC runtime (an identity token for the registry)".to_owned());
            ("the GitHub Actions OIDC runtime", Some(Platform::GitHubActions))
        }
        _ => ("NPM_ID_TOKEN", None),
    };
    let id_token = registry::trusted_publishing_id_token(&ctx.http, auth, registry.base())
        .await?
        .ok_or_else(|| fail(ExitKind::Internal, "trusted publishing without an identity token"))?;
    let lookup = |key: &str| ctx.env.get(key).cloned();
    let job_platform = Platform::detect(&lookup);
    let claims = crate::core::jwt::decode_unverified(id_token.expose()).map(|j| j.claims).map_err(|e| {
        fail_with_hint(
            ExitKind::Environment,
            format!("the identity token for trusted publishing ({source}) is not a JWT: {e}"),
            IdTokenProblem::MissingClaim { claim: "aud" }.hint(platform_hint.or(job_platform), &host),
        )
    })?;
    let token_platform = claims.get("iss").and_then(Value::as_str).and_then(Platform::of_issuer);
    let job_project = match job_platform {
        Some(Platform::GitHubActions) => lookup("GITHUB_REPOSITORY"),
        Some(Platform::GitLab) => lookup("CI_PROJECT_PATH"),
        _ => None,
    };
    let publisher = read_id_token(&claims, &host, crate::clock::now()?, job_project.as_deref()).map_err(|problem| {
        let hint = problem.hint(platform_hint.or(token_platform).or(job_platform), &host);
        fail_with_hint(
            ExitKind::Environment,
            format!("the identity token for trusted publishing ({source}) {problem}"),
            hint,
        )
    })?;
    report::debug(&format!("trusted publishing as {}", publisher.describe()));
    Ok((id_token, publisher))
}

/// Signs (or takes the given bundle), verifies, and uploads a package that passed [`preflight`].
pub async fn sign_and_upload(ctx: &Context, input: &PackageInput, checked: Checked) -> anyhow::Result<Published> {
    let Checked { registry_url, registry, token, new_before_put, contacted } = checked;
    let name = &input.tarball.name;
    let version = input.tarball.version.as_str();
    let access = input.access(ctx);
    let tag = input.tag(ctx);

    // Sign (or take the given bundle), and verify before anything is uploaded.
    let mut kept_root: Option<Vec<u8>> = None;
    let mut tlog_url = None;
    let bundle_value: Option<(Value, bool)> = if !ctx.provenance {
        None
    } else if let Some(path) = &ctx.bundle {
        let (bundle, value) = read_bundle_file(path)?;
        let trust = match ctx.trusted_root.as_deref() {
            Some(root) => {
                SelfCheckTrust::Exact { root: read_trusted_root(Some(root), false)?, name: root.display().to_string() }
            }
            // Public-good's (or --tuf-url's) through TUF: exact when TUF verified it; the
            // embedded snapshot only with --offline and no cache.
            None => {
                let repository = ctx.tuf.repository()?;
                let fetched = crate::sigstore::tuf::trust_material(&repository, ctx.tuf.offline).await?;
                let root = fetched.trusted_root()?;
                if fetched.origin.is_tuf_verified() {
                    SelfCheckTrust::Exact { root, name: format!("TUF-fresh ({})", repository.url) }
                } else {
                    SelfCheckTrust::PublicGoodSnapshot(root)
                }
            }
        };
        let policy = repository_policy(&input.tarball.manifest)?;
        check_bundle(&bundle, &npm_package(&input.tarball), &policy, &trust, &path.display().to_string())?;
        report::info(&format!("The bundle {} is about this tarball and verifies", path.display()));
        Some((value, false))
    } else {
        let signer = ctx.signer.get().await?;
        let SignedBundle { bundle, self_check } =
            signer.attest(&input.tarball).await.map_err(|e| e.context("refusing to publish"))?;
        // Nothing unverified is uploaded.
        if let SelfCheck::NotRun { reason } = self_check {
            return Err(fail_with_hint(
                ExitKind::VerificationFailed,
                format!("refusing to publish: the new bundle does not verify: {reason}"),
                "pass the trusted root of the Sigstore instance you sign with (--trusted-root FILE)",
            ));
        }
        let log_index = bundle.verification_material.tlog_entries.first().map(|e| e.log_index).unwrap_or_default();
        tlog_url = signer.endpoints().transparency_log_url(log_index);
        if signer.trusted_root().is_some() {
            report::info(&format!(
                "Signed provenance statement ({} form) with the local Sigstore stand-in: a dry run",
                signer.provider().display_name()
            ));
        } else {
            report::info(&format!(
                "Signed provenance statement with source and build information from {}",
                signer.provider().display_name()
            ));
        }
        if let Some(root) = signer.trusted_root() {
            let bytes = serde_json::to_vec_pretty(root)
                .map_err(|e| fail(ExitKind::Internal, format!("cannot serialize the trusted root: {e}")))?;
            if let Some(path) = &ctx.trusted_root_out {
                write_atomic(path, &bytes)?;
                report::info(&format!("Trusted root of the local Sigstore stand-in: {}", path.display()));
            }
            kept_root = Some(bytes);
        }
        if signer.trusted_root().is_some() {
            report::info(&format!(
                "Logged at index {log_index} of the stand-in's transparency log (gone when this command exits)"
            ));
        } else {
            report::info(&format!(
                "Provenance statement published to transparency log: {}",
                tlog_url.as_deref().unwrap_or("-")
            ));
        }
        let value = serde_json::to_value(&bundle)
            .map_err(|e| fail(ExitKind::Internal, format!("cannot serialize the bundle: {e}")))?;
        Some((value, true))
    };

    // The document npm sends.
    let bundle_json = bundle_value.as_ref().map(|(v, _)| v.to_string());
    let media_type = bundle_value
        .as_ref()
        .and_then(|(v, _)| v.get("mediaType").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    let integrity = input.tarball.integrity();
    let shasum = input.tarball.shasum();
    let document = build_document(&PublishInput {
        manifest: &input.tarball.manifest,
        name: name.as_str(),
        version,
        tarball: &input.bytes,
        integrity: &integrity,
        shasum: &shasum,
        registry: &registry_url,
        tag,
        access,
        provenance: bundle_json.as_deref().map(|b| (b, media_type.as_str())),
    });
    let mut attachments = vec![(format!("{name}-{version}.tgz"), input.bytes.len())];
    if let Some(b) = &bundle_json {
        attachments.push((format!("{name}-{version}.sigstore"), b.len()));
    }
    let published = Published {
        name: name.to_string(),
        version: version.to_owned(),
        registry: registry_url.clone(),
        tag: tag.to_owned(),
        access,
        integrity: integrity.clone(),
        attachments,
        transparency_log_url: tlog_url,
        dry_run: ctx.dry_run,
    };
    let put_url = format!("{registry_url}{}", name.escaped());
    if ctx.dry_run {
        report::info(&format!("Dry run: would PUT {put_url} (tag {tag}, access {})", access.unwrap_or("default")));
        for (attachment, size) in &published.attachments {
            report::info(&format!("  {attachment} ({})", crate::report::size(*size as u64)));
        }
        let sigstore = if !ctx.provenance {
            "no provenance, so no signing"
        } else if ctx.bundle.is_some() {
            "the given bundle, so no signing"
        } else {
            "signed with the local Sigstore stand-in, so nothing went to Sigstore"
        };
        let contacted = if contacted.is_empty() { "nothing on the network".to_owned() } else { contacted.join("; ") };
        report::info(&format!("Dry run: nothing was uploaded; {sigstore}; contacted: {contacted}"));
        return Ok(published);
    }

    let body = serde_json::to_vec(&document)
        .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the publish document: {e}")))?;
    let outcome =
        upload(&registry, name, version, &integrity, body, token.as_ref(), ctx.otp.as_ref(), new_before_put).await;
    match outcome {
        Ok(()) => {
            report::info(&format!("Published {name}@{version} to {registry_url} with tag {tag}"));
            Ok(published)
        }
        Err(err) => match &bundle_value {
            // A fresh bundle is never thrown away: keep it (and what verifies it) for `--bundle`.
            Some((value, true)) => Err(keep_for_retry(ctx, input, value, kept_root.as_deref(), err)),
            _ => Err(err),
        },
    }
}

/// The PUT and the reading of the registry's answer.
#[allow(clippy::too_many_arguments)]
async fn upload(
    registry: &Registry,
    name: &PackageName,
    version: &str,
    integrity: &str,
    body: Vec<u8>,
    token: Option<&SecretString>,
    otp: Option<&SecretString>,
    new_before_put: bool,
) -> anyhow::Result<()> {
    let answer = registry.put_package(name, body, token, otp).await?;
    if answer.status.is_success() {
        return Ok(());
    }
    let status = answer.status.as_u16();
    let message =
        answer.message.clone().unwrap_or_else(|| answer.status.canonical_reason().unwrap_or("no message").to_owned());
    let refusal = classify_refusal(status, answer.www_authenticate.as_deref(), &message);
    if refusal == PublishRefusal::VersionExists && new_before_put {
        // The version was not there before our PUT: a retried PUT whose first attempt went
        // through answers "exists", and that is our upload when the integrity is ours.
        if let Ok(Some(p)) = registry.packument(name, token).await {
            if p["versions"][version]["dist"]["integrity"].as_str() == Some(integrity) {
                report::info("The registry already has this exact tarball (an earlier attempt went through)");
                return Ok(());
            }
        }
    }
    let (kind, hint) = match refusal {
        PublishRefusal::OtpRequired => (ExitKind::Remote, "pass --otp CODE with a current one-time password (or use a granular automation token)".to_owned()),
        PublishRefusal::VersionExists => (ExitKind::BadInput, "bump \"version\" in package.json (published versions can never be replaced)".to_owned()),
        PublishRefusal::Unauthorized => (ExitKind::Environment, "check the registry token (NODE_AUTH_TOKEN, NPM_TOKEN or .npmrc) and that it may publish this package".to_owned()),
        PublishRefusal::NotFound => (ExitKind::Environment, "the token cannot publish this package or scope: check the token, the scope's owner, or the trusted publisher configuration".to_owned()),
        PublishRefusal::ProvenanceRejected => (ExitKind::Remote, "the registry refused the provenance: check package.json \"repository\", the runner (GitHub-hosted) and the repository visibility (public), or publish with --no-provenance".to_owned()),
        _ => (ExitKind::Remote, "check the registry's message; transient failures were already retried".to_owned()),
    };
    Err(fail_with_hint(kind, format!("the registry refused {name}@{version} ({status}): {message}"), hint))
}

/// Writes the bundle (and its trusted root, and a packed tarball) next to each other and turns
/// `err` into one that says how to publish them without signing again.
fn keep_for_retry(
    ctx: &Context,
    input: &PackageInput,
    bundle: &Value,
    root: Option<&[u8]>,
    err: anyhow::Error,
) -> anyhow::Error {
    let stem = format!(
        "{}-{}",
        input.tarball.name.as_str().trim_start_matches('@').replace('/', "-"),
        input.tarball.version.as_str()
    );
    // Never into a package being packed: `.npm-attest/` when the current directory is inside it.
    let keep_dir = match &input.packed_from {
        Some(dir) if ctx.keep_dir == Path::new(".") => {
            crate::npm::pack::default_output_dir(&[dir.as_path()]).unwrap_or_else(|_| ctx.keep_dir.clone())
        }
        _ => ctx.keep_dir.clone(),
    };
    let bundle_path = keep_dir.join(format!("{stem}.sigstore.json"));
    let mut tarball_path = input.tarball.path.clone();
    let result = (|| -> anyhow::Result<Option<PathBuf>> {
        if input.packed {
            let kept = keep_dir.join(format!("{stem}.tgz"));
            move_file(&input.tarball.path, &kept)?;
            tarball_path = kept;
        }
        let root_path = match root {
            Some(bytes) => {
                let path = keep_dir.join(format!("{stem}.trusted_root.json"));
                write_atomic(&path, bytes)?;
                Some(path)
            }
            None => None,
        };
        let mut bytes = serde_json::to_vec_pretty(bundle)
            .map_err(|e| fail(ExitKind::Internal, format!("cannot serialize the bundle: {e}")))?;
        bytes.push(b'\n');
        write_atomic(&bundle_path, &bytes)?;
        Ok(root_path)
    })();
    let (kind, message, hint) = {
        let (kind, hint) = crate::error::classify(&err);
        (kind, crate::error::message(&err), hint.map(str::to_owned))
    };
    match result {
        Ok(root_path) => {
            let root_flag = root_path.map(|p| format!(" --trusted-root {}", p.display())).unwrap_or_default();
            let retry =
                format!("npm-attest publish --bundle {}{root_flag} {}", bundle_path.display(), tarball_path.display());
            let hint = match hint {
                Some(h) => format!("{h}; the signed bundle was kept, publish it without signing again: {retry}"),
                None => {
                    format!("the signed bundle was kept, publish it without signing again: {retry}")
                }
            };
            fail_with_hint(kind, message, hint)
        }
        Err(keep_err) => fail_with_hint(
            kind,
            message,
            format!("the signed bundle could not be kept either: {}", crate::error::render(&keep_err)),
        ),
    }
}

fn read_bundle_file(path: &Path) -> anyhow::Result<(Bundle, Value)> {
    let bundle = crate::sigstore::trust::read_bundle(path)?;
    let bytes = std::fs::read(path)
        .map_err(|e| fail(ExitKind::BadInput, format!("cannot read bundle {}: {e}", path.display())))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| fail(ExitKind::BadInput, format!("bundle {} is not JSON: {e}", path.display())))?;
    Ok((bundle, value))
}

/// The verifier's name for the package a tarball holds.
fn npm_package(tarball: &PackageTarball) -> NpmPackage {
    NpmPackage {
        name: tarball.name.as_str().to_owned(),
        version: tarball.version.as_str().to_owned(),
        sha512: tarball.sha512,
    }
}

/// For a given bundle: the signer must be the package's own repository (the registry compares
/// the certificate's Source Repository URI with package.json `repository`), on GitHub Actions
/// or GitLab CI.
fn repository_policy(manifest: &Map<String, Value>) -> anyhow::Result<Policy> {
    let repository = manifest.get("repository").and_then(normalize_repository).ok_or_else(|| {
        fail_with_hint(
            ExitKind::BadInput,
            "cannot check who signed the bundle: package.json has no \"repository\"",
            "add \"repository\" to package.json (the registry requires it for provenance)",
        )
    })?;
    let issuer = if repository.starts_with("https://github.com/") {
        GITHUB_ACTIONS_ISSUER
    } else if repository.starts_with("https://gitlab.com/") {
        GITLAB_ISSUER
    } else {
        return Err(fail(
            ExitKind::BadInput,
            format!("cannot check who signed the bundle: {repository} is neither on GitHub nor on GitLab.com"),
        ));
    };
    let mut identity = IdentityPolicy::new(issuer);
    identity.source_repository_uri = Some(repository);
    Ok(Policy::Keyless(identity))
}

fn published_json(p: &Published) -> Value {
    json!({
        "name": p.name,
        "version": p.version,
        "registry": p.registry,
        "tag": p.tag,
        "access": p.access,
        "integrity": p.integrity,
        "attachments": p.attachments.iter().map(|(n, s)| json!({"name": n, "size": s})).collect::<Vec<_>>(),
        "transparencyLogUrl": p.transparency_log_url,
        "dryRun": p.dry_run,
        "published": !p.dry_run,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::core::verify::IdentityMatcher;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn build_facts_come_from_the_ci_at_hand() {
        let gh = build_facts(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SERVER_URL", "https://github.com/"),
            ("RUNNER_ENVIRONMENT", "self-hosted"),
        ]));
        assert_eq!(gh.repository.as_deref(), Some("https://github.com/o/r"));
        assert_eq!(gh.runner_environment.as_deref(), Some("self-hosted"));
        assert_eq!(gh.repository_visibility, None);
        let gl = build_facts(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_URL", "https://gitlab.com/g/p"),
            ("CI_PROJECT_VISIBILITY", "internal"),
        ]));
        assert_eq!(gl.repository.as_deref(), Some("https://gitlab.com/g/p"));
        assert_eq!(gl.repository_visibility.as_deref(), Some("internal"));
        assert_eq!(build_facts(&env(&[("GITHUB_REPOSITORY", "o/r")])), BuildFacts::default());
    }

    #[test]
    fn circleci_publishes_without_provenance_as_npm_does() {
        assert!(ci_without_provenance(&env(&[("CIRCLECI", "true"), ("CI", "true")])));
        assert!(!ci_without_provenance(&env(&[("GITHUB_ACTIONS", "true"), ("CIRCLECI", "true")])));
        assert!(!ci_without_provenance(&env(&[("GITLAB_CI", "true")])));
        assert!(!ci_without_provenance(&env(&[("CI", "true")])));
    }

    #[test]
    fn event_payload_visibility_reads_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, r#"{"repository":{"private":true}}"#).unwrap();
        assert_eq!(event_visibility(&path).as_deref(), Some("private"));
        std::fs::write(&path, r#"{"repository":{"private":false,"visibility":"internal"}}"#).unwrap();
        assert_eq!(event_visibility(&path).as_deref(), Some("internal"));
        std::fs::write(&path, r#"{"repository":{"private":false}}"#).unwrap();
        assert_eq!(event_visibility(&path).as_deref(), Some("public"));
        assert_eq!(event_visibility(&dir.path().join("missing.json")), None);
    }

    #[test]
    fn given_bundles_must_name_a_github_or_gitlab_repository() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        let Policy::Keyless(p) = repository_policy(&m(json!({"repository": "github:o/r"}))).unwrap() else {
            panic!("keyless expected")
        };
        assert!(matches!(&p.issuer, IdentityMatcher::Exact(i) if i == GITHUB_ACTIONS_ISSUER));
        assert_eq!(p.source_repository_uri.as_deref(), Some("https://github.com/o/r"));
        let Policy::Keyless(p) = repository_policy(&m(json!({"repository": "gitlab:g/p"}))).unwrap() else {
            panic!("keyless expected")
        };
        assert!(matches!(&p.issuer, IdentityMatcher::Exact(i) if i == GITLAB_ISSUER));
        assert!(repository_policy(&m(json!({}))).is_err());
        assert!(repository_policy(&m(json!({"repository": "https://example.com/o/r"}))).is_err());
    }
}
