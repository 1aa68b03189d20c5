use std::process::ExitCode;

use clap::Parser as _;

use npm_attest::cli::{Cli, Command};
use npm_attest::{cmd, error, report};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let runner_debug = std::env::var("RUNNER_DEBUG").is_ok_and(|v| v == "1");
    let verbosity = if cli.quiet {
        0
    } else if cli.verbose || runner_debug {
        2
    } else {
        1
    };
    report::init(verbosity, in_actions);

    // Verifying local files needs no worker threads (a batch verifies on scoped threads of its
    // own, and at most the trusted root is fetched): a current-thread runtime starts faster.
    // Everything else talks to several services, or verifies registry packages, at once.
    let local_verify = matches!(&cli.command, Command::Verify(args) if args.registry.is_none());
    let mut builder = if local_verify {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report::error_line(&format!("error: cannot start the async runtime: {e}"), "npm-attest");
            return ExitCode::from(error::ExitKind::Internal.code());
        }
    };
    let title = command_title(&cli.command);
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Attest(args) => cmd::attest::run(args).await,
            Command::Publish(args) => cmd::publish::run(args).await,
            Command::Verify(args) => cmd::verify::run(args).await,
            Command::ServeSigstore(args) => cmd::serve::run(args).await,
            Command::TrustRoot(args) => cmd::trust_root::run(args).await,
            Command::Conformance(c) => cmd::conformance::run(c).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let (kind, _) = error::classify(&err);
            report::error_line(&error::render(&err), title);
            ExitCode::from(kind.code())
        }
    }
}

fn command_title(command: &Command) -> &'static str {
    match command {
        Command::Attest(_) => "npm-attest attest",
        Command::Publish(_) => "npm-attest publish",
        Command::Verify(_) => "npm-attest verify",
        Command::ServeSigstore(_) => "npm-attest serve-sigstore",
        Command::TrustRoot(_) => "npm-attest trust-root",
        Command::Conformance(_) => "npm-attest conformance",
    }
}
