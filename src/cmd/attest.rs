//! `npm-attest attest`: sign SLSA build provenance for npm packages, as
//! `npm publish --provenance` does, and write the Sigstore bundles.
//!
//! Order matters for the user: the identity token source is checked first (a missing
//! `id-token: write` fails in milliseconds, before packing or hashing), then the packages are
//! read, then the network is used, and only a complete bundle is written.
//!
//! Several packages (or `--workspaces`) form a batch: one identity token, one ephemeral key
//! and one Fulcio certificate serve all of them; packing and hashing run in parallel across
//! cores while the certificate is requested; statements are signed and logged concurrently,
//! at most `--concurrency` at a time. One package failing does not stop the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::ci::summary::VerificationOutcome;
use crate::cmd::batch::{self, bounded, error_text};
use crate::core::npm::pack::Manager;
use crate::core::wire::bundle::Bundle;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::fsutil::{parent_dir, write_atomic};
use crate::npm::pack::{check_signable, default_output_dir, move_file};
use crate::npm::tarball::{self, PackageTarball};
use crate::report;
use crate::sigstore::endpoints::Endpoints;
use crate::sigstore::self_check::{SelfCheck, SelfCheckTrust};
use crate::sigstore::session::bundle_json;
use crate::sigstore::signer::{capture_env, Purpose, SignedBundle, Signer, SignerPlan, SigstoreArgs};

#[derive(Debug, clap::Args)]
pub struct AttestArgs {
    /// Tarballs made by `npm pack`, or package directories (packed first by the project's
    /// package manager, into a private temporary directory).
    /// With `--workspaces`: the project root whose package.json lists the workspaces.
    #[arg(default_value = ".", value_name = "PACKAGE")]
    pub packages: Vec<PathBuf>,

    /// Attest every workspace package of the project (the root package.json's `workspaces`
    /// globs, as npm reads them); private packages are skipped as `npm publish` skips them.
    #[arg(long)]
    pub workspaces: bool,

    /// Where to write the bundle [default: `<tarball stem>.sigstore.json` next to the tarball,
    /// or in the current directory for a package directory]. One package only.
    #[arg(short, long, value_name = "PATH", conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,

    /// Write every bundle (and tarballs packed from directories) into this directory
    /// [default: the current directory, or `.npm-attest/` in it when it is inside a package
    /// being packed].
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Pack package directories with this package manager instead of the detected one
    /// (`packageManager` field, then lockfiles).
    #[arg(long, value_enum, value_name = "MANAGER")]
    pub package_manager: Option<Manager>,

    /// How many statements are signed and logged at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    #[command(flatten)]
    pub sigstore: SigstoreArgs,

    /// Print one JSON object describing the result on stdout.
    #[arg(long)]
    pub json: bool,

    /// Also store the bundle with the GitHub artifact attestations API (needs GITHUB_TOKEN
    /// with `attestations: write` and GITHUB_REPOSITORY, as in GitHub Actions).
    #[arg(long)]
    pub upload_to_github: bool,
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
    // The token source first: no token means no point in packing or hashing.
    let env = capture_env();
    let purpose = Purpose::Attest { upload_to_github: args.upload_to_github };
    let signer_plan = SignerPlan::for_purpose(&args.sigstore, env.clone(), purpose)?;
    let lookup = |key: &str| env.get(key).cloned();
    // Checked before signing too: a missing token or repository fails before anything is logged.
    let upload =
        if args.upload_to_github { Some(crate::ci::attestations::UploadTarget::from_env(&lookup)?) } else { None };
    let inputs = inputs(&args)?;
    let mut args = args;
    if args.output.is_none() && args.output_dir.is_none() {
        let dirs: Vec<&Path> = inputs.iter().filter(|p| p.is_dir()).map(PathBuf::as_path).collect();
        let out = default_output_dir(&dirs)?;
        if out != Path::new(".") {
            args.output_dir = Some(out);
        }
    }
    let args = args;
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            fail_with_hint(
                ExitKind::Environment,
                format!("cannot create the output directory {}: {e}", dir.display()),
                "pass a writable --output-dir",
            )
        })?;
    }
    match inputs.as_slice() {
        [one] if !args.workspaces => run_one(&args, signer_plan, one, &lookup, upload.as_ref()).await,
        _ if upload.is_some() => Err(fail_with_hint(
            ExitKind::BadInput,
            "--upload-to-github takes one package",
            "attest the packages one at a time to upload each bundle to GitHub",
        )),
        _ => run_batch(&args, signer_plan, inputs).await,
    }
}

/// The packages named on the command line, or the workspaces of the project root.
fn inputs(args: &AttestArgs) -> anyhow::Result<Vec<PathBuf>> {
    let inputs = batch::inputs(&args.packages, args.workspaces)?;
    if inputs.len() > 1 && args.output.is_some() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            "--output names one bundle but several packages were given",
            "use --output-dir DIR to write every bundle into one directory",
        ));
    }
    Ok(inputs)
}

/// One package: the original single-package flow and output.
async fn run_one(
    args: &AttestArgs,
    signer_plan: SignerPlan,
    input: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    upload: Option<&crate::ci::attestations::UploadTarget>,
) -> anyhow::Result<()> {
    let plan = plan(input, args.output.as_deref(), args.output_dir.as_deref(), args.package_manager).await?;
    let package = read_tarball(&plan.tarball).await?;
    check_signable(&package)?;
    report::info(&format!(
        "Attesting {}@{} ({}, sha512 {})",
        package.name,
        package.version,
        report::size(package.size),
        &package.sha512_hex()[..16]
    ));
    let signer = signer_plan.start().await?;
    warn_if_unverifiable(&signer);
    let result = match signer.attest(&package).await {
        Ok(signed) => {
            let report_to = crate::ci::report::ReportTo { env: lookup, upload };
            finish(args, &plan, &package, &signer, &signed, report_to).await
        }
        Err(e) => {
            crate::ci::report::report_refusal(lookup, &format!("{}@{}", package.name, package.version), &e)?;
            Err(e)
        }
    };
    signer.shutdown().await;
    result
}

/// Reads and hashes a tarball on the blocking pool.
async fn read_tarball(path: &Path) -> anyhow::Result<PackageTarball> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || tarball::read(&path))
        .await
        .map_err(|e| fail(ExitKind::Internal, format!("the tarball reader stopped: {e}")))?
}

/// A package of a batch, packed and hashed, ready to sign.
#[derive(Debug)]
struct Prepared {
    plan: Plan,
    package: PackageTarball,
}

/// The outcome for one package of a batch.
#[derive(Debug)]
enum Outcome {
    Attested { label: String, bundle: PathBuf, log_index: Option<i64>, json: Value },
    Failed { label: String, error: anyhow::Error },
}

/// Several packages with one signer: prepare all (in parallel, while the certificate is
/// requested), then sign and log with at most `--concurrency` in flight.
async fn run_batch(args: &AttestArgs, signer_plan: SignerPlan, inputs: Vec<PathBuf>) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    report::info(&format!(
        "Attesting {} packages ({} signing at a time, one certificate)",
        inputs.len(),
        args.concurrency
    ));
    let (signer, prepared) =
        tokio::join!(signer_plan.start(), prepare_all(&inputs, args.output_dir.clone(), args.package_manager, cores));
    let signer = Arc::new(signer?);
    warn_if_unverifiable(&signer);
    let out_dir = args.output_dir.clone().unwrap_or_else(|| PathBuf::from("."));

    // The local stand-in's trusted root, written once for the whole batch before any bundle.
    let trusted_root_path = match signer.trusted_root() {
        Some(root) => {
            let path = args.sigstore.trusted_root_out.clone().unwrap_or_else(|| in_dir(&out_dir, "trusted_root.json"));
            let bytes = serde_json::to_vec_pretty(root)
                .map_err(|e| fail(ExitKind::Internal, format!("cannot serialize the trusted root: {e}")))?;
            write_atomic(&path, &bytes)?;
            Some(path)
        }
        None => None,
    };

    // Each package either becomes a signing task or has already failed (its outcome passes
    // through `bounded` untouched).
    let mut claimed: HashMap<PathBuf, String> = HashMap::new();
    let mut tasks: Vec<Result<(String, Prepared), Outcome>> = Vec::with_capacity(inputs.len());
    for (input, prepared) in inputs.iter().zip(prepared) {
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                tasks.push(Err(Outcome::Failed { label: input.display().to_string(), error }));
                continue;
            }
        };
        let label = format!("{}@{}", prepared.package.name, prepared.package.version);
        // Two packages may not write the same bundle (e.g. the same tarball twice).
        if let Some(first) = claimed.insert(prepared.plan.bundle.clone(), label.clone()) {
            let error = fail_with_hint(
                ExitKind::BadInput,
                format!("{label} would overwrite the bundle {} of {first}", prepared.plan.bundle.display()),
                "give each package once, or use --output-dir",
            );
            claimed.insert(prepared.plan.bundle.clone(), first);
            tasks.push(Err(Outcome::Failed { label, error }));
            continue;
        }
        tasks.push(Ok((label, prepared)));
    }
    let outcomes = bounded(args.concurrency as usize, tasks, |(label, prepared): (String, Prepared)| {
        let signer = Arc::clone(&signer);
        let trusted_root = trusted_root_path.clone();
        async move {
            match signer.attest(&prepared.package).await {
                Ok(signed) => match write_in_background(prepared.plan, signed.bundle).await {
                    Ok((plan, bundle, tarball)) => {
                        let prepared = Prepared { plan, package: prepared.package };
                        let log_index = log_index(&bundle);
                        let json = result_json(
                            &prepared.plan.bundle,
                            &tarball,
                            &prepared.package,
                            log_index,
                            signer.endpoints(),
                            trusted_root.as_deref(),
                        );
                        Outcome::Attested { label, bundle: prepared.plan.bundle.clone(), log_index, json }
                    }
                    Err(error) => Outcome::Failed { label, error },
                },
                Err(error) => Outcome::Failed { label, error },
            }
        }
    })
    .await?;
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|o| o.unwrap_or_else(|failed| failed)).collect();
    let provider = signer.provider().display_name();
    let endpoints = signer.endpoints().clone();
    if let Some(signer) = Arc::into_inner(signer) {
        signer.shutdown().await;
    }
    report_batch(args, &outcomes, provider, &endpoints, trusted_root_path.as_deref())
}

/// Packs and hashes every input, at most `cores` at a time.
async fn prepare_all(
    inputs: &[PathBuf],
    out_dir: Option<PathBuf>,
    manager: Option<Manager>,
    cores: usize,
) -> Vec<anyhow::Result<Prepared>> {
    let items: Vec<Result<PathBuf, std::convert::Infallible>> = inputs.iter().cloned().map(Ok).collect();
    let prepared = bounded(cores, items, |input: PathBuf| {
        let out_dir = out_dir.clone();
        async move {
            let plan = plan(&input, None, out_dir.as_deref(), manager).await?;
            let package = read_tarball(&plan.tarball).await?;
            check_signable(&package)?;
            Ok(Prepared { plan, package })
        }
    })
    .await;
    match prepared {
        Ok(results) => results.into_iter().map(|r| r.unwrap_or_else(|never| match never {})).collect(),
        Err(e) => {
            let reason = crate::error::render(&e);
            inputs.iter().map(|_| Err(fail(ExitKind::Internal, reason.clone()))).collect()
        }
    }
}

/// Per-package lines and a summary (or one JSON object), and the exit status.
fn report_batch(
    args: &AttestArgs,
    outcomes: &[Outcome],
    provider: &str,
    endpoints: &Endpoints,
    trusted_root: Option<&Path>,
) -> anyhow::Result<()> {
    let succeeded = outcomes.iter().filter(|o| matches!(o, Outcome::Attested { .. })).count();
    let failed = outcomes.len() - succeeded;
    if succeeded > 0 {
        if trusted_root.is_some() {
            report::info(&format!(
                "Signed provenance statements ({provider} form) with the local Sigstore stand-in: a dry run, nothing was published"
            ));
        } else {
            report::info(&format!("Signed provenance statements with source and build information from {provider}"));
            match &endpoints.rekor {
                Some(rekor) => report::info(&format!("Provenance statements published to transparency log {rekor}")),
                None => report::info(NOT_LOGGED),
            }
        }
        if let Some(path) = trusted_root {
            report::info(&format!(
                "Trusted root: {} (the dry run's stand-in: it verifies dry-run bundles only)",
                path.display()
            ));
        }
    }
    if args.json {
        let entries = outcomes.iter().map(|o| match o {
            Outcome::Attested { json, .. } => Ok(json.clone()),
            Outcome::Failed { label, error } => Err((label.as_str(), error)),
        });
        report::data(&batch::json_summary(entries).to_string());
    } else {
        for outcome in outcomes {
            match outcome {
                Outcome::Attested { label, bundle, log_index: Some(log_index), .. } => {
                    report::data(&format!("attested  {label}  {}  (log index {log_index})", bundle.display()));
                }
                Outcome::Attested { label, bundle, log_index: None, .. } => {
                    report::data(&format!("attested  {label}  {}  (timestamped, not logged)", bundle.display()));
                }
                Outcome::Failed { label, error } => report::data(&format!("failed    {label}: {}", error_text(error))),
            }
        }
        report::data(&format!("{succeeded} attested, {failed} failed"));
    }
    let failures: Vec<(&str, &anyhow::Error)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed { label, error } => Some((label.as_str(), error)),
            Outcome::Attested { .. } => None,
        })
        .collect();
    batch::verdict(
        outcomes.len(),
        &failures,
        "the other packages were attested and their bundles written; fix the ones named and attest them again",
    )
}

/// Works out the tarball (packing a directory) and the output paths: `output` names the
/// bundle, else `output_dir` holds it, else it goes next to the tarball (or in the current
/// directory for a package directory).
async fn plan(
    input: &Path,
    output: Option<&Path>,
    output_dir: Option<&Path>,
    manager: Option<Manager>,
) -> anyhow::Result<Plan> {
    if batch::is_dir(input)? {
        // The packed tarball is kept next to the bundle; it is packed into a private
        // temporary directory (never into the package) and moved into place only when the
        // bundle is written.
        let out_dir = match (output, output_dir) {
            (Some(output), _) => parent_dir(output),
            (None, Some(dir)) => dir.to_path_buf(),
            (None, None) => PathBuf::from("."),
        };
        let packed = crate::npm::pack::pack(input, manager).await?;
        // Yarn names every tarball `package.tgz`: the kept file gets npm's name instead.
        let written = packed.tarball.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file_name = match (packed.manager, tarball::read(&packed.tarball)) {
            (Manager::Yarn, Ok(t)) => {
                let raw = t.manifest.get("version").and_then(Value::as_str).unwrap_or(t.version.as_str());
                crate::npm::pack::tarball_name(t.name.as_str(), raw)
            }
            _ => written,
        };
        let tarball_final = in_dir(&out_dir, &file_name);
        let bundle =
            output.map(Path::to_path_buf).unwrap_or_else(|| in_dir(&out_dir, &bundle_name(Path::new(&file_name))));
        Ok(Plan {
            tarball: packed.tarball.clone(),
            tarball_final: Some(tarball_final),
            bundle,
            _pack_dir: Some(packed.dir),
        })
    } else {
        let bundle = match (output, output_dir) {
            (Some(output), _) => output.to_path_buf(),
            (None, Some(dir)) => in_dir(dir, &bundle_name(input)),
            (None, None) => input.with_file_name(bundle_name(input)),
        };
        Ok(Plan { tarball: input.to_path_buf(), tarball_final: None, bundle, _pack_dir: None })
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
    let stem = name.strip_suffix(".tgz").or_else(|| name.strip_suffix(".tar.gz")).unwrap_or(&name).to_owned();
    format!("{stem}.sigstore.json")
}

/// The log index of the bundle's entry; `None` for a bundle dated by timestamps alone.
fn log_index(bundle: &Bundle) -> Option<i64> {
    bundle.verification_material.tlog_entries.first().map(|e| e.log_index)
}

/// What `attest` says when the instance logs nothing (GitHub's).
const NOT_LOGGED: &str =
    "Not logged: this Sigstore instance (like GitHub's, for private repositories) keeps no transparency log; an RFC 3161 timestamp dates the signature";

/// [`write_results`] on the blocking pool (it syncs the file to disk), handing the plan and
/// bundle back.
async fn write_in_background(plan: Plan, bundle: Bundle) -> anyhow::Result<(Plan, Bundle, PathBuf)> {
    tokio::task::spawn_blocking(move || write_results(&plan, &bundle).map(|tarball| (plan, bundle, tarball)))
        .await
        .map_err(|e| fail(ExitKind::Internal, format!("a bundle writer stopped: {e}")))?
}

/// Moves a packed tarball into place and writes the bundle (last); returns the tarball path.
fn write_results(plan: &Plan, bundle: &Bundle) -> anyhow::Result<PathBuf> {
    let bundle_bytes = bundle_json(bundle)?;
    let tarball_path = match &plan.tarball_final {
        Some(final_path) => {
            move_file(&plan.tarball, final_path)?;
            final_path.clone()
        }
        None => plan.tarball.clone(),
    };
    write_atomic(&plan.bundle, &bundle_bytes)?;
    Ok(tarball_path)
}

/// The `--json` object for one attested package.
fn result_json(
    bundle: &Path,
    tarball: &Path,
    package: &PackageTarball,
    log_index: Option<i64>,
    endpoints: &Endpoints,
    trusted_root: Option<&Path>,
) -> Value {
    let mut out = json!({
        "bundle": bundle.display().to_string(),
        "tarball": tarball.display().to_string(),
        "package": {"name": package.name.as_str(), "version": package.version.as_str()},
        "subject": {"name": package.purl(), "sha512": package.sha512_hex()},
        "integrity": package.integrity(),
        "shasum": package.shasum(),
        "logIndex": log_index,
        "transparencyLogUrl": log_index.and_then(|i| endpoints.transparency_log_url(i)),
        "fulcioUrl": endpoints.fulcio,
        "rekorUrl": endpoints.rekor,
    });
    if let (Some(path), Some(obj)) = (trusted_root, out.as_object_mut()) {
        obj.insert("trustedRoot".into(), Value::String(path.display().to_string()));
    }
    out
}

/// The job summary's words for what the self-check established.
fn verification_outcome(check: &SelfCheck) -> VerificationOutcome {
    match check {
        SelfCheck::Verified { trusted_root, .. } => {
            VerificationOutcome::Verified { trusted_root: trusted_root.clone() }
        }
        SelfCheck::LogKeyUnknown { reason } => VerificationOutcome::NotRun {
            reason: format!("the embedded public-good trusted root does not list this log yet ({reason})"),
        },
        SelfCheck::NotRun { reason } => VerificationOutcome::NotRun { reason: reason.clone() },
    }
}

/// Says once, before anything is signed, that the self-check cannot run for this instance.
fn warn_if_unverifiable(signer: &Signer) {
    if matches!(signer.self_check_trust(), SelfCheckTrust::Unknown) {
        report::warn(
            "bundles from this Sigstore instance are not verified before they are written: no trusted root is known for it (pass --trusted-root FILE)",
        );
    }
}

/// Writes the results (trusted root, tarball, bundle last) and reports them (under GitHub
/// Actions also as step outputs and the job summary; see `crate::ci::report`).
async fn finish(
    args: &AttestArgs,
    plan: &Plan,
    package: &PackageTarball,
    signer: &Signer,
    signed: &SignedBundle,
    report_to: crate::ci::report::ReportTo<'_>,
) -> anyhow::Result<()> {
    let bundle = &signed.bundle;

    let endpoints = signer.endpoints();
    let trusted_root = match signer.trusted_root() {
        Some(root) => {
            let path = args
                .sigstore
                .trusted_root_out
                .clone()
                .unwrap_or_else(|| in_dir(&parent_dir(&plan.bundle), "trusted_root.json"));
            let bytes = serde_json::to_vec_pretty(root)
                .map_err(|e| fail(ExitKind::Internal, format!("cannot serialize the trusted root: {e}")))?;
            Some((path, bytes))
        }
        None => None,
    };
    let log_index = log_index(bundle);
    let tlog_url = log_index.and_then(|i| endpoints.transparency_log_url(i));
    if let Some((path, bytes)) = &trusted_root {
        write_atomic(path, bytes)?;
    }
    let tarball_path = write_results(plan, bundle)?;

    if trusted_root.is_some() {
        report::info(&format!(
            "Signed provenance statement ({} form) with the local Sigstore stand-in: a dry run, nothing was published",
            signer.provider().display_name()
        ));
        match log_index {
            Some(log_index) => report::info(&format!(
                "Logged at index {log_index} of the stand-in's transparency log (gone when this command exits)"
            )),
            None => report::info(
                "Not logged: the stand-in signs as GitHub's Sigstore instance, which keeps no transparency log",
            ),
        }
    } else {
        report::info(&format!(
            "Signed provenance statement with source and build information from {}",
            signer.provider().display_name()
        ));
        match &tlog_url {
            Some(url) => report::info(&format!("Provenance statement published to transparency log: {url}")),
            None => report::info(NOT_LOGGED),
        }
    }
    if plan.tarball_final.is_some() {
        report::info(&format!("Tarball: {}", tarball_path.display()));
    }
    if let Some((path, _)) = &trusted_root {
        report::info(&format!(
            "Trusted root: {} (the dry run's stand-in: it verifies dry-run bundles only)",
            path.display()
        ));
        report::info(&format!("Bundle: {} (dry run: signed by the stand-in, in no public log)", plan.bundle.display()));
        let repository = signer.repository().unwrap_or("local/example");
        report::info(&format!(
            "Verify it with: npm-attest verify --bundle {} --trusted-root {} --repository {repository} {}",
            plan.bundle.display(),
            path.display(),
            tarball_path.display()
        ));
    } else {
        report::info(&format!("Bundle: {}", plan.bundle.display()));
    }
    if args.json {
        let trusted_root = trusted_root.as_ref().map(|(path, _)| path.as_path());
        let out = result_json(&plan.bundle, &tarball_path, package, log_index, endpoints, trusted_root);
        report::data(&out.to_string());
    }
    let attested = crate::ci::report::Attested {
        bundle,
        bundle_path: &plan.bundle,
        tarball_path: &tarball_path,
        name: package.name.as_str(),
        version: package.version.as_str(),
        sha512: package.sha512,
        log_index,
        transparency_log_url: tlog_url.as_deref(),
        verification: verification_outcome(&signed.self_check),
        verified_signer: match &signed.self_check {
            SelfCheck::Verified { identity, issuer, .. } => Some((identity.clone(), issuer.clone())),
            _ => None,
        },
        trusted_root_path: trusted_root.as_ref().map(|(path, _)| path.as_path()),
    };
    crate::ci::report::report_attestation(report_to.env, &attested, report_to.upload).await
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
}
