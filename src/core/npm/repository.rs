//! Source repository URLs as npm users write them in package.json, normalized to one form so
//! the publish preflight and `verify` can compare them.

use serde_json::Value;

/// A source repository as `https://<host>/<owner>/<repo>` (lowercase host, no `.git`), from
/// package.json's `repository` (a string or `{url}`), accepting the forms npm users write:
/// `git+https://github.com/o/r.git`, `https://github.com/o/r`, `github:o/r`, `o/r`,
/// `git@github.com:o/r.git`, `ssh://git@github.com/o/r.git`, `git://github.com/o/r.git`,
/// `gitlab:group/project`.
pub fn normalize_repository(repository: &Value) -> Option<String> {
    let raw = match repository {
        Value::String(s) => s.as_str(),
        Value::Object(m) => m.get("url")?.as_str()?,
        _ => return None,
    };
    normalize_repository_url(raw)
}

pub fn normalize_repository_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (host, path) = if let Some(rest) = raw.strip_prefix("github:") {
        ("github.com".to_owned(), rest.to_owned())
    } else if let Some(rest) = raw.strip_prefix("gitlab:") {
        ("gitlab.com".to_owned(), rest.to_owned())
    } else if let Some(rest) = raw.strip_prefix("bitbucket:") {
        ("bitbucket.org".to_owned(), rest.to_owned())
    } else if let Some((_, rest)) = raw.split_once("://") {
        // git+https://, https://, ssh://git@host/, git://, git+ssh://
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        let host = host.split(':').next().unwrap_or(host);
        (host.to_owned(), path.to_owned())
    } else if let Some((user_host, path)) = raw.split_once(':') {
        // scp-like: git@github.com:o/r.git
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        if host.is_empty() || host.contains('/') {
            return None;
        }
        (host.to_owned(), path.to_owned())
    } else if raw.matches('/').count() == 1 && !raw.starts_with('.') && !raw.starts_with('/') {
        // `owner/repo` shorthand means GitHub.
        ("github.com".to_owned(), raw.to_owned())
    } else {
        return None;
    };
    let path = path.split(['#', '?']).next().unwrap_or("");
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    // An owner and a repository at least (GitLab groups nest deeper); no empty segments.
    if host.is_empty() || path.split('/').count() < 2 || path.split('/').any(str::is_empty) {
        return None;
    }
    Some(format!("https://{}/{}", host.to_ascii_lowercase(), path))
}

/// Source repositories compare case-insensitively (GitHub owner and repository names are).
pub fn same_repository(a: &str, b: &str) -> bool {
    a.trim_end_matches('/').eq_ignore_ascii_case(b.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn repository_forms_normalize_to_one_url() {
        let want = Some("https://github.com/npm-attest/demo".to_owned());
        for form in [
            "git+https://github.com/npm-attest/demo.git",
            "https://github.com/npm-attest/demo",
            "https://GitHub.com/npm-attest/demo/",
            "github:npm-attest/demo",
            "npm-attest/demo",
            "git@github.com:npm-attest/demo.git",
            "ssh://git@github.com/npm-attest/demo.git",
            "git+ssh://git@github.com/npm-attest/demo.git",
            "git://github.com/npm-attest/demo.git",
            "https://github.com/npm-attest/demo.git#main",
        ] {
            assert_eq!(normalize_repository_url(form), want, "{form}");
        }
        assert_eq!(
            normalize_repository(&json!({"type": "git", "url": "github:a/b"})),
            Some("https://github.com/a/b".into())
        );
        for bad in ["", "demo", "https://github.com", "./local/path", "/abs/path", "file:", "https://github.com//x"] {
            assert_eq!(normalize_repository_url(bad), None, "{bad}");
        }
    }
}
