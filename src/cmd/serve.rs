//! `npm-attest serve-sigstore`: run the local Sigstore stand-in until SIGINT/SIGTERM, writing
//! the trust material independent clients need (trusted root, signing config, ClientTrustConfig
//! for sigstore-python's `--trust-config`, and optionally a minted identity token).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use hyper::StatusCode;

use crate::error::{fail_with_hint, ExitKind};
use crate::report;
use crate::standin::{github_actions_claims, FaultMode, Faults, Standin, StandinOptions};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Write the trusted root (trusted_root.json) that verifies what the stand-in issues.
    #[arg(long, value_name = "PATH")]
    pub trusted_root_out: Option<PathBuf>,
    /// Write a signing config v0.2 naming the stand-in's CA and log (with `--rekor-version 2`:
    /// its Rekor v2 log and TSA).
    #[arg(long, value_name = "PATH")]
    pub signing_config_out: Option<PathBuf>,
    /// Which log the written signing configs name: 1 (Rekor v1 at the base URL) or 2 (Rekor v2
    /// at `/rekor-v2` plus the TSA at `/api/v1/timestamp`). The stand-in serves both either way.
    #[arg(long, value_name = "1|2", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
    pub rekor_version: u32,
    /// Write a ClientTrustConfig (trusted root + signing config), as sigstore-python's
    /// `--trust-config` takes.
    #[arg(long, value_name = "PATH")]
    pub trust_config_out: Option<PathBuf>,
    /// Write an identity token minted by the stand-in's mock GitHub Actions issuer, for
    /// independent clients (file mode 0600).
    #[arg(long, value_name = "PATH")]
    pub token_out: Option<PathBuf>,
    /// Write the `1.root.json` of the stand-in's TUF repository (served at `<URL>/tuf`, with the
    /// trusted root and signing config as targets), for `--tuf-url <URL>/tuf --tuf-root PATH`.
    #[arg(long, value_name = "PATH")]
    pub tuf_root_out: Option<PathBuf>,
    /// Serve in the form of GitHub's own Sigstore instance (what actions/attest signs with for
    /// private repositories): the CA (leaves without SCTs) and the TSA only; no transparency
    /// log, no CT log, and a trusted root and signing config that list neither.
    #[arg(long)]
    pub github_instance: bool,
    /// Test and demo knob: issue certificates whose validity ended before they are issued
    /// (notBefore 20 minutes ago, notAfter 10 minutes ago); the log keeps the real time.
    #[arg(long)]
    pub expired_certificates: bool,
    /// Delay every request by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0, help_heading = "Fault injection")]
    pub latency_ms: u64,
    /// The first N requests to each endpoint fail.
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Fault injection")]
    pub fail_first: u64,
    /// The status failing requests answer.
    #[arg(
        long,
        value_name = "CODE",
        default_value_t = 503,
        value_parser = clap::value_parser!(u16).range(400..=599),
        conflicts_with_all = ["truncate_bodies", "drop_connections"],
        help_heading = "Fault injection"
    )]
    pub fail_status: u16,
    /// A fraction (0 to 1) of requests fail at random, reproducibly for a
    /// --seed.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_rate, help_heading = "Fault injection")]
    pub fail_rate: f64,
    /// A Retry-After header (seconds) on injected 429 and 503 answers.
    #[arg(long, value_name = "SECONDS", help_heading = "Fault injection")]
    pub retry_after: Option<u64>,
    /// The seed of --fail-rate's random choices.
    #[arg(long, value_name = "S", default_value_t = 0, help_heading = "Fault injection")]
    pub seed: u64,
    /// Failing requests get their real answer cut midway (the full
    /// Content-Length is declared, then the connection closes); every request when neither
    /// --fail-first nor --fail-rate is given.
    #[arg(long, conflicts_with = "drop_connections", help_heading = "Fault injection")]
    pub truncate_bodies: bool,
    /// Failing requests get their connection closed without an answer;
    /// every request when neither --fail-first nor --fail-rate is given.
    #[arg(long, help_heading = "Fault injection")]
    pub drop_connections: bool,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{text} is not a fraction between 0 and 1")),
    }
}

impl ServeArgs {
    /// The fault-injection options the flags ask for.
    pub fn faults(&self) -> Faults {
        let mode = if self.drop_connections {
            FaultMode::DropConnection
        } else if self.truncate_bodies {
            FaultMode::TruncateBody
        } else {
            // The flag's parser keeps the code within 400..=599.
            FaultMode::Status(StatusCode::from_u16(self.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
        };
        Faults {
            latency: Duration::from_millis(self.latency_ms),
            fail_first: self.fail_first,
            fail_rate: self.fail_rate,
            seed: self.seed,
            mode,
            retry_after: self.retry_after,
        }
    }
}

/// Writes `bytes` to a temporary file next to `path` and renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("cannot create a file in {}: {e}", dir.display()),
            "pass an output path in a writable directory",
        )
    })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path).map_err(|e| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("cannot write {}: {}", path.display(), e.error),
            "pass an output path in a writable directory",
        )
    })?;
    Ok(())
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("cannot serialize the stand-in's trust material")?;
    text.push('\n');
    write_atomically(path, text.as_bytes())
}

/// SIGINT/SIGTERM listeners, registered before the server announces itself so a signal sent
/// right after the `listening on` line is never missed (the default action would kill us).
struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn register() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
                terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(mut self) -> anyhow::Result<()> {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.context("cannot listen for Ctrl-C")?;
        Ok(())
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let faults = args.faults();
    let layers = if faults.is_active() {
        report::info(&format!("injecting faults: {faults:?}"));
        vec![faults.middleware()]
    } else {
        Vec::new()
    };
    let options = StandinOptions { listen: args.listen };
    let started = if args.github_instance {
        Standin::start_github_instance_with_middleware(options, layers).await
    } else {
        Standin::start_with_middleware(options, layers).await
    };
    let standin = started.map_err(|e| {
        fail_with_hint(
            ExitKind::Environment,
            format!("cannot start the local Sigstore stand-in: {e:#}"),
            "pick a free address with --listen 127.0.0.1:0",
        )
    })?;
    if args.expired_certificates {
        standin.issue_expired_certificates();
        report::info("issuing expired certificates (--expired-certificates)");
    }
    let outputs = async {
        if let Some(path) = &args.trusted_root_out {
            write_json(path, standin.trusted_root())?;
        }
        if let Some(path) = &args.signing_config_out {
            let config =
                if args.rekor_version == 2 { standin.signing_config_rekor_v2() } else { standin.signing_config() };
            write_json(path, &config)?;
        }
        if let Some(path) = &args.tuf_root_out {
            write_atomically(path, standin.tuf_root())?;
        }
        if let Some(path) = &args.trust_config_out {
            let config = if args.rekor_version == 2 {
                standin.client_trust_config_rekor_v2()
            } else {
                standin.client_trust_config()
            };
            write_json(path, &config)?;
        }
        if let Some(path) = &args.token_out {
            let now = crate::clock::now()?;
            let claims = github_actions_claims(&|name| std::env::var(name).ok(), now);
            // The token is a mock credential for loopback use only; it is written, never printed.
            let token = standin.mint_token(claims);
            write_atomically(path, token.expose().as_bytes())?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = outputs {
        standin.shutdown().await;
        return Err(e);
    }
    let signals = match ShutdownSignals::register() {
        Ok(signals) => signals,
        Err(e) => {
            standin.shutdown().await;
            return Err(e);
        }
    };
    report::data(&format!("listening on {}", standin.base_url()));
    let waited = signals.wait().await;
    standin.shutdown().await;
    waited
}
