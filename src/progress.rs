//! Progress for the long waits (`npm pack` of a large package) on stderr:
//! a line rewritten in place on a terminal, a plain line every few seconds in CI logs, nothing
//! when stderr is neither (a redirect) or under `--quiet`. Short waits print nothing.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::report;

/// Nothing is shown for waits shorter than this.
const QUIET_START: Duration = Duration::from_secs(2);
/// How often a terminal line is redrawn, and how often CI logs get a line.
const TERMINAL_EVERY: Duration = Duration::from_millis(500);
const PLAIN_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A line rewritten in place.
    Terminal,
    /// A line every [`PLAIN_EVERY`] (CI logs, which keep every line).
    Plain,
    Off,
}

impl Mode {
    pub(crate) fn detect() -> Self {
        let env = |k: &str| std::env::var(k).ok();
        Self::choose(report::progress_enabled(), std::io::stderr().is_terminal(), &env)
    }

    fn choose(enabled: bool, terminal: bool, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let ci =
            ["CI", "GITHUB_ACTIONS", "GITLAB_CI"].iter().any(|k| env(k).is_some_and(|v| !v.is_empty() && v != "false"));
        match (enabled, terminal, ci) {
            (false, _, _) => Self::Off,
            // A terminal that is a CI log (some runners allocate a pty) gets plain lines too.
            (true, true, false) => Self::Terminal,
            (true, _, true) => Self::Plain,
            (true, false, false) => Self::Off,
        }
    }

    fn every(self) -> Duration {
        if self == Self::Terminal {
            TERMINAL_EVERY
        } else {
            PLAIN_EVERY
        }
    }
}

/// Only one in-place line at a time: a second ticker (packing in parallel) stays silent.
static LINE_TAKEN: AtomicBool = AtomicBool::new(false);

/// Says `what` is still running, with the time spent, until dropped.
#[derive(Debug)]
pub(crate) struct Ticker {
    task: Option<tokio::task::JoinHandle<()>>,
    owns_line: bool,
    mode: Mode,
}

impl Ticker {
    /// Starts ticking for `what` (`packing ./big with npm pack`). Needs a tokio runtime.
    pub(crate) fn start(what: String) -> Self {
        let mode = Mode::detect();
        let owns_line = mode == Mode::Terminal && !LINE_TAKEN.swap(true, Ordering::AcqRel);
        if mode == Mode::Off || (mode == Mode::Terminal && !owns_line) {
            return Self { task: None, owns_line, mode };
        }
        let started = Instant::now();
        let task = tokio::spawn(async move {
            tokio::time::sleep(QUIET_START).await;
            loop {
                let seconds = started.elapsed().as_secs();
                match mode {
                    Mode::Terminal => report::progress(&format!("{what}… {seconds} s"), true),
                    _ => report::progress(&format!("still {what} ({seconds} s)"), false),
                }
                tokio::time::sleep(mode.every()).await;
            }
        });
        Self { task: Some(task), owns_line, mode }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if self.owns_line {
            if self.mode == Mode::Terminal {
                report::progress_clear();
            }
            LINE_TAKEN.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_get_a_line_ci_logs_plain_lines_redirects_nothing() {
        let none = |_: &str| None;
        let ci = |k: &str| (k == "GITHUB_ACTIONS").then(|| "true".to_owned());
        assert_eq!(Mode::choose(true, true, &none), Mode::Terminal);
        assert_eq!(Mode::choose(true, false, &ci), Mode::Plain);
        assert_eq!(Mode::choose(true, true, &ci), Mode::Plain);
        assert_eq!(Mode::choose(true, false, &none), Mode::Off);
        assert_eq!(Mode::choose(false, true, &none), Mode::Off, "--quiet");
        assert_eq!(Mode::choose(true, false, &|k: &str| (k == "CI").then(|| "false".to_owned())), Mode::Off);
    }
}
