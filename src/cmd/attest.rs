//! `npm-attest attest`: sign SLSA build provenance for an npm package, as
//! `npm publish --provenance` does, and write the Sigstore bundle.
//!
//! Order matters for the user: the identity token source is checked first (a missing
//! `id-token: write` fails in milliseconds, before packing or hashing), then the package is
//! read, then the network is used, and only a complete bundle is written.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::core::bundle::Bundle;
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::fsutil::{parent_dir, rename, write_atomic};
use crate::provenance::{capture_env, Signer, SignerPlan, SigstoreArgs};
use crate::report;
use crate::sigstore;
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
    let signer_plan = SignerPlan::new(&args.sigstore, env.clone())?;
    let lookup = |key: &str| env.get(key).cloned();
    // Checked before signing too: a missing token or repository fails before anything is logged.
    let upload = if args.upload_to_github {
        Some(crate::github::UploadTarget::from_env(&lookup)?)
    } else {
        None
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
    let signer = signer_plan.start().await?;
    let result = match signer.attest(&package).await {
        Ok(bundle) => {
            let report_to = crate::github::ReportTo {
                env: &lookup,
                upload: upload.as_ref(),
                trusted_root: match signer.trusted_root() {
                    Some(root) => crate::github::TrustedRootChoice::Local(root),
                    None if *signer.endpoints() == sigstore::Endpoints::public_good() => {
                        crate::github::TrustedRootChoice::PublicGood
                    }
                    None => crate::github::TrustedRootChoice::Unknown,
                },
            };
            finish(&args, &plan, &package, &signer, &bundle, report_to).await
        }
        Err(e) => Err(e),
    };
    signer.shutdown().await;
    result
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
        let out_dir = args
            .output
            .as_deref()
            .map(parent_dir)
            .unwrap_or_else(|| PathBuf::from("."));
        let pack_dir = tempfile::Builder::new()
            .prefix(".npm-attest-pack-")
            .tempdir_in(&out_dir)
            .map_err(|e| {
                fail(
                    ExitKind::Environment,
                    format!(
                        "cannot create a temporary directory in {}: {e}",
                        out_dir.display()
                    ),
                )
            })?;
        report::info(&format!("Packing {} with `npm pack`", input.display()));
        let packed = tarball::npm_pack(input, pack_dir.path()).await?;
        let file_name = packed.file_name().map(|n| n.to_owned()).unwrap_or_default();
        let tarball_final = in_dir(&out_dir, &file_name.to_string_lossy());
        let bundle = args
            .output
            .clone()
            .unwrap_or_else(|| in_dir(&out_dir, &bundle_name(Path::new(&file_name))));
        Ok(Plan {
            tarball: packed,
            tarball_final: Some(tarball_final),
            bundle,
            _pack_dir: Some(pack_dir),
        })
    } else {
        let bundle = args
            .output
            .clone()
            .unwrap_or_else(|| input.with_file_name(bundle_name(input)));
        Ok(Plan {
            tarball: input.clone(),
            tarball_final: None,
            bundle,
            _pack_dir: None,
        })
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
    let name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "package".into());
    let stem = name
        .strip_suffix(".tgz")
        .or_else(|| name.strip_suffix(".tar.gz"))
        .unwrap_or(&name)
        .to_owned();
    format!("{stem}.sigstore.json")
}

/// Writes the results (trusted root, tarball, bundle last) and reports them (under GitHub
/// Actions also as step outputs and the job summary; see `crate::github`).
async fn finish(
    args: &AttestArgs,
    plan: &Plan,
    package: &PackageTarball,
    signer: &Signer,
    bundle: &Bundle,
    report_to: crate::github::ReportTo<'_>,
) -> anyhow::Result<()> {
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
    let bundle_bytes = sigstore::bundle_json(bundle)?;
    let log_index = bundle
        .verification_material
        .tlog_entries
        .first()
        .map(|e| e.log_index)
        .unwrap_or_default();
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

    if trusted_root.is_some() {
        report::info(&format!(
            "Signed provenance statement ({} form) with the local Sigstore stand-in: a dry run, nothing was published",
            signer.provider().display_name()
        ));
    } else {
        report::info(&format!(
            "Signed provenance statement with source and build information from {}",
            signer.provider().display_name()
        ));
    }
    report::info(&format!(
        "Provenance statement published to transparency log: {tlog_url}"
    ));
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
            obj.insert(
                "trustedRoot".into(),
                Value::String(path.display().to_string()),
            );
        }
        report::data(&out.to_string());
    }
    let attested = crate::github::Attested {
        bundle,
        bundle_path: &plan.bundle,
        tarball_path: &tarball_path,
        name: package.name.as_str(),
        version: package.version.as_str(),
        sha512: package.sha512,
        log_index,
        transparency_log_url: &tlog_url,
        trusted_root: report_to.trusted_root,
        trusted_root_path: trusted_root.as_ref().map(|(path, _)| path.as_path()),
    };
    crate::github::report_attestation(report_to.env, &attested, report_to.upload).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_names_follow_the_tarball() {
        assert_eq!(
            bundle_name(Path::new("dir/hello-npm-1.0.0.tgz")),
            "hello-npm-1.0.0.sigstore.json"
        );
        assert_eq!(bundle_name(Path::new("x.tar.gz")), "x.sigstore.json");
        assert_eq!(bundle_name(Path::new("weird")), "weird.sigstore.json");
    }
}
