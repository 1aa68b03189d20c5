//! The job summary (`$GITHUB_STEP_SUMMARY`) as Markdown: what was signed, where it was logged,
//! who signed it and how to verify it. Pure: formatting only; `runner` appends it.

/// A step summary larger than this is refused by the runner (1 MiB per step).
pub(crate) const SUMMARY_LIMIT: usize = 1024 * 1024;

/// What the verification of the fresh bundle established, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum VerificationOutcome {
    /// The bundle verified against `trusted_root` (a name such as "public-good" or a path).
    Verified { trusted_root: String },
    /// Verification ran and failed.
    Failed { reason: String },
    /// Verification did not run.
    NotRun { reason: String },
}

/// The facts of one attestation, as shown in the job summary.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttestSummary {
    /// `name@version`.
    pub package: String,
    /// The statement subject, `pkg:npm/...@...`.
    pub subject_name: String,
    /// `sha512:<hex>`.
    pub subject_digest: String,
    /// The signing certificate's SAN.
    pub signer_identity: Option<String>,
    /// The OIDC issuer in the signing certificate.
    pub signer_issuer: Option<String>,
    /// The signer was read from the certificate without verifying it.
    pub signer_unverified: bool,
    pub log_index: Option<u64>,
    pub transparency_log_url: Option<String>,
    pub bundle_path: String,
    /// `None` when verification is not known at all (rendered as "not run").
    pub verification: Option<VerificationOutcome>,
    /// The attestation stored with the GitHub attestations API.
    pub attestation_url: Option<String>,
    /// Where the package was published, if it was.
    pub published_to: Option<String>,
    /// A shell command that verifies the bundle, shown to readers.
    pub verify_command: Option<String>,
}

/// The job summary Markdown for one attestation. Every value from outside is escaped, so a
/// package name cannot inject Markdown or HTML into the summary page.
pub(crate) fn render_summary(s: &AttestSummary) -> String {
    let mut md = String::new();
    md.push_str("### npm provenance attested\n\n");
    md.push_str("| | |\n| --- | --- |\n");
    let mut row = |key: &str, value: String| {
        md.push_str(&format!("| {key} | {value} |\n"));
    };
    row("Package", code(&s.package));
    row("Subject", code(&s.subject_name));
    row("Digest", code(&s.subject_digest));
    let unverified = if s.signer_unverified { " (not verified)" } else { "" };
    match (&s.signer_identity, &s.signer_issuer) {
        (Some(id), Some(iss)) => row("Signer", format!("{} (issuer {}){unverified}", code(id), code(iss))),
        (Some(id), None) => row("Signer", format!("{}{unverified}", code(id))),
        _ => row("Signer", "unknown".to_owned()),
    }
    match (&s.transparency_log_url, s.log_index) {
        (Some(url), Some(index)) => row("Transparency log", link(&format!("log index {index}"), url)),
        (Some(url), None) => row("Transparency log", link("entry", url)),
        (None, Some(index)) => row("Transparency log", format!("log index {index}")),
        (None, None) => row("Transparency log", "no entry".to_owned()),
    }
    let verification = match &s.verification {
        Some(VerificationOutcome::Verified { trusted_root }) => {
            format!("✅ verified against the {} trusted root", escape_md(trusted_root))
        }
        Some(VerificationOutcome::Failed { reason }) => format!("❌ failed: {}", escape_md(reason)),
        Some(VerificationOutcome::NotRun { reason }) => format!("not run: {}", escape_md(reason)),
        None => "not run".to_owned(),
    };
    row("Verification", verification);
    row("Bundle", code(&s.bundle_path));
    if let Some(url) = &s.attestation_url {
        row("GitHub attestation", link(url, url));
    }
    if let Some(registry) = &s.published_to {
        row("Published to", code(registry));
    }
    md.push('\n');
    if let Some(command) = &s.verify_command {
        // A fenced block shows its content verbatim; a value cannot contain a fence line since
        // the command is built from shell words on one line.
        md.push_str("Verify it with:\n\n```sh\n");
        md.push_str(&command.replace(['\n', '\r'], " "));
        md.push_str("\n```\n");
    }
    if md.len() > SUMMARY_LIMIT {
        // Only a pathological input gets here; keep the runner from refusing the whole file.
        let mut cut = SUMMARY_LIMIT - 64;
        while !md.is_char_boundary(cut) {
            cut -= 1;
        }
        md.truncate(cut);
        md.push_str("\n\n(summary truncated)\n");
    }
    md
}

/// Markdown/HTML escaping for table cells: backslash-escape Markdown punctuation, write HTML
/// metacharacters as entities, and flatten newlines (a newline would end the table row).
pub(crate) fn escape_md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("&#124;"),
            '\r' | '\n' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An inline code span. HTML `<code>` with entity escaping, so backticks in the value cannot end
/// the span and `|` cannot end the table cell.
fn code(text: &str) -> String {
    let mut out = String::from("<code>");
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push_str("</code>");
    out
}

/// A Markdown link, only for `http(s)` URLs made of characters that cannot break out of the
/// link syntax; anything else is shown as code.
fn link(text: &str, url: &str) -> String {
    let safe = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | '<' | '>' | '"' | '`' | '|' | '\\'));
    if safe {
        format!("[{}]({url})", escape_md(text))
    } else {
        code(url)
    }
}

/// The `npm-attest verify` command for a bundle: the repository's identity, the issuer, and
/// the trusted root when it is not the embedded public-good one.
pub(crate) fn verify_command(
    bundle: &str,
    trusted_root: Option<&str>,
    issuer: &str,
    repository: &str,
    tarball: &str,
) -> String {
    let mut words = vec!["npm-attest".to_owned(), "verify".to_owned(), "--bundle".to_owned(), shell_word(bundle)];
    if let Some(root) = trusted_root {
        words.push("--trusted-root".to_owned());
        words.push(shell_word(root));
    }
    words.extend([
        "--certificate-oidc-issuer".to_owned(),
        shell_word(issuer),
        "--repository".to_owned(),
        shell_word(repository),
    ]);
    words.push(shell_word(tarball));
    words.join(" ")
}

/// A POSIX shell word: as is when it is plainly safe, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '@' | ':' | '%' | '+' | '='));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''").replace(['\n', '\r'], " "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> AttestSummary {
        AttestSummary {
            package: "@scope/pkg@1.2.3".into(),
            subject_name: "pkg:npm/%40scope/pkg@1.2.3".into(),
            subject_digest: "sha512:abcd".into(),
            signer_identity: Some("https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/v1.2.3".into()),
            signer_issuer: Some("https://token.actions.githubusercontent.com".into()),
            signer_unverified: false,
            log_index: Some(42),
            transparency_log_url: Some("https://search.sigstore.dev/?logIndex=42".into()),
            bundle_path: "/tmp/pkg-1.2.3.sigstore.json".into(),
            verification: Some(VerificationOutcome::Verified { trusted_root: "public-good".into() }),
            attestation_url: Some("https://github.com/octo/pkg/attestations/7".into()),
            published_to: None,
            verify_command: Some(verify_command(
                "/tmp/pkg-1.2.3.sigstore.json",
                None,
                "https://token.actions.githubusercontent.com",
                "octo/pkg",
                "/tmp/scope-pkg-1.2.3.tgz",
            )),
        }
    }

    #[test]
    fn summary_shows_the_facts() {
        let md = render_summary(&summary());
        assert!(md.starts_with("### npm provenance attested\n"));
        assert!(md.contains("| Package | <code>@scope/pkg@1.2.3</code> |"), "{md}");
        assert!(md.contains("| Digest | <code>sha512:abcd</code> |"));
        assert!(md.contains("| Transparency log | [log index 42](https://search.sigstore.dev/?logIndex=42) |"), "{md}");
        assert!(md.contains("<code>https://github.com/octo/pkg/.github/workflows/release.yml@refs/tags/v1.2.3</code>"));
        assert!(md.contains("| Verification | ✅ verified against the public-good trusted root |"), "{md}");
        assert!(md.contains("[https://github.com/octo/pkg/attestations/7](https://github.com/octo/pkg/attestations/7)"));
        assert!(md.contains(
            "\n```sh\nnpm-attest verify --bundle /tmp/pkg-1.2.3.sigstore.json --certificate-oidc-issuer https://token.actions.githubusercontent.com --repository octo/pkg /tmp/scope-pkg-1.2.3.tgz\n```\n"
        ), "{md}");
    }

    #[test]
    fn summary_marks_an_unverified_signer() {
        let mut s = summary();
        s.signer_unverified = true;
        s.verification = Some(VerificationOutcome::Failed { reason: "inclusion proof does not match".into() });
        let md = render_summary(&s);
        assert!(
            md.contains("(issuer <code>https://token.actions.githubusercontent.com</code>) (not verified) |"),
            "{md}"
        );
        assert!(md.contains("| Verification | ❌ failed: inclusion proof does not match |"), "{md}");
    }

    #[test]
    fn summary_escapes_hostile_values() {
        let mut s = summary();
        s.package = "x</code><script>alert(1)</script>|`\nnext".into();
        s.transparency_log_url = Some("javascript:alert(1)".into());
        s.verification = Some(VerificationOutcome::Failed { reason: "[click](http://evil) <b>".into() });
        s.verify_command = Some(verify_command("/tmp/a b'$(x)", Some("r\nx"), "i", "o/r", "t"));
        let md = render_summary(&s);
        assert!(!md.contains("<script>"), "{md}");
        assert!(!md.contains("](javascript"), "{md}");
        assert!(!md.contains("<b>"));
        assert!(md.contains("\\[click\\]\\(http://evil\\)"), "{md}");
        assert!(md.contains("--bundle '/tmp/a b'\\''$(x)' --trusted-root 'r x' "), "{md}");
        // Every table line still has exactly three cell separators.
        for line in md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| ---")) {
            assert_eq!(line.matches('|').count(), 3, "{line}");
        }
    }
}
