//! The only place that writes to stdout and stderr.
//!
//! stdout is data (paths, JSON); stderr is for people (progress, warnings, errors).
//! Under GitHub Actions (`GITHUB_ACTIONS=true`) this module also emits workflow commands:
//! `::add-mask::` for secrets, `::error::` annotations, `::group::`/`::endgroup::`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::secret::SecretString;

static VERBOSITY: AtomicU8 = AtomicU8::new(1);
static IN_ACTIONS: AtomicBool = AtomicBool::new(false);

/// 0 = quiet, 1 = normal, 2 = debug (`--verbose` or `RUNNER_DEBUG=1`).
pub fn init(verbosity: u8, in_github_actions: bool) {
    VERBOSITY.store(verbosity, Ordering::Relaxed);
    IN_ACTIONS.store(in_github_actions, Ordering::Relaxed);
}

pub fn in_github_actions() -> bool {
    IN_ACTIONS.load(Ordering::Relaxed)
}

pub fn debug_enabled() -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= 2
}

/// A line of data on stdout.
pub fn data(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

pub fn info(msg: &str) {
    if VERBOSITY.load(Ordering::Relaxed) >= 1 {
        eprintln!("{msg}");
    }
}

pub fn warn(msg: &str) {
    if in_github_actions() {
        eprintln!("::warning::{}", escape_data(msg));
    } else {
        eprintln!("warning: {msg}");
    }
}

pub fn debug(msg: &str) {
    if debug_enabled() {
        if in_github_actions() {
            eprintln!("::debug::{}", escape_data(msg));
        } else {
            eprintln!("debug: {msg}");
        }
    }
}

/// Whether progress is shown at all (not under `--quiet`).
pub fn progress_enabled() -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= 1
}

/// A progress line on stderr: rewritten in place on a terminal, a plain line otherwise (CI logs).
pub fn progress(line: &str, in_place: bool) {
    if !progress_enabled() {
        return;
    }
    let mut err = std::io::stderr().lock();
    if in_place {
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    } else {
        let _ = writeln!(err, "{line}");
    }
}

/// Clears an in-place progress line.
pub fn progress_clear() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}

/// The final error line (already rendered by `error::render`).
pub fn error_line(line: &str, title: &str) {
    eprintln!("{line}");
    if in_github_actions() {
        // Workflow commands go to stdout, where the runner reads them.
        let msg = line.strip_prefix("error: ").unwrap_or(line);
        data(&format!("::error title={}::{}", escape_property(title), escape_data(msg)));
    }
}

/// Masks a secret in the Actions log. Does nothing outside Actions.
pub fn mask(secret: &SecretString) {
    if in_github_actions() && !secret.is_empty() {
        // The one place a secret's value is written anywhere: the runner consumes this line
        // and never shows it.
        data(&format!("::add-mask::{}", secret.expose()));
    }
}

pub fn group_start(title: &str) {
    if in_github_actions() {
        data(&format!("::group::{}", escape_data(title)));
    }
}

pub fn group_end() {
    if in_github_actions() {
        data("::endgroup::");
    }
}

/// A size for people: `812 B`, `89.1 KiB`, `12.3 MiB`, `1.2 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Workflow-command data escaping (`%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Workflow-command property escaping (data escaping plus `:` and `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_for_people() {
        assert_eq!(super::size(812), "812 B");
        assert_eq!(super::size(91196), "89.1 KiB");
        assert_eq!(super::size(12 * 1024 * 1024 + 300 * 1024), "12.3 MiB");
        assert_eq!(super::size(3 << 30), "3.0 GiB");
    }
}
