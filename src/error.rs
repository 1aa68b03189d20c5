//! Exit codes and the classification of top-level errors.
//!
//! Commands return `anyhow::Result`. An error that should end the process with a specific
//! exit code carries an [`Exit`] somewhere in its chain (usually created with [`fail`]);
//! `main` finds it and prints the whole chain on one line, followed by the hint.

use std::fmt;

/// The documented exit codes (README.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitKind {
    /// 1: verification ran and the bundle, signature or identity did not check out.
    VerificationFailed,
    /// 2: the command line or an input file is wrong (bad tarball, malformed bundle, ...).
    BadInput,
    /// 3: the environment is missing something: an identity token, a permission, a tool.
    Environment,
    /// 4: a remote service (OIDC provider, Fulcio, Rekor, a registry, GitHub) refused or failed.
    Remote,
    /// 5: in a batch, some packages failed and the others succeeded.
    PartialFailure,
    /// 70: a bug in npm-attest.
    Internal,
}

impl ExitKind {
    pub fn code(self) -> u8 {
        match self {
            Self::VerificationFailed => 1,
            Self::BadInput => 2,
            Self::Environment => 3,
            Self::Remote => 4,
            Self::PartialFailure => 5,
            Self::Internal => 70,
        }
    }
}

/// An error marker with an exit code and an optional hint naming the fix.
#[derive(Debug)]
pub struct Exit {
    pub kind: ExitKind,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Creates a classified error.
pub fn fail(kind: ExitKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Exit { kind, message: message.into(), hint: None })
}

/// Creates a classified error with a hint naming the fix.
pub fn fail_with_hint(kind: ExitKind, message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Exit { kind, message: message.into(), hint: Some(hint.into()) })
}

/// Wraps an existing error with an exit kind (keeps it as the source).
pub trait Classify<T> {
    fn classify(self, kind: ExitKind, message: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E> Classify<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn classify(self, kind: ExitKind, message: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(e).context(Exit { kind, message: message.into(), hint: None }))
    }
}

/// The exit kind and hint of an error chain: the outermost [`Exit`] wins.
pub fn classify(err: &anyhow::Error) -> (ExitKind, Option<&str>) {
    // An `Exit` attached with `.context(..)` (as `Classify` does) is not a link of `chain()`
    // that downcasts; anyhow's own `downcast_ref` finds it.
    if let Some(exit) = err.downcast_ref::<Exit>() {
        return (exit.kind, exit.hint.as_deref());
    }
    for cause in err.chain() {
        if let Some(exit) = cause.downcast_ref::<Exit>() {
            return (exit.kind, exit.hint.as_deref());
        }
    }
    (ExitKind::Internal, None)
}

/// The one-line rendering: `error: outer: inner: root (hint: ...)`.
pub fn render(err: &anyhow::Error) -> String {
    let (_, hint) = classify(err);
    let mut line = format!("error: {}", message(err));
    if let Some(hint) = hint {
        line.push_str(&format!(" (hint: {})", hint.replace('\n', " ")));
    }
    line
}

/// The chain on one line, without the `error: ` prefix and without the hint (for wrapping an
/// error in another that gives its own hint: one hint per error).
pub fn message(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if parts.last().is_none_or(|p| p != &text) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_finds_an_exit_attached_as_context() {
        let err = Err::<(), _>(std::io::Error::other("disk on fire"))
            .classify(ExitKind::BadInput, "cannot read x")
            .unwrap_err();
        assert_eq!(classify(&err).0, ExitKind::BadInput);
        assert_eq!(render(&err), "error: cannot read x: disk on fire");
    }
}
