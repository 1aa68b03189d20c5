//! `.npmrc` parsing: registry and token selection by nerf dart, `${VAR}` substitution
//! (npm-provenance.md §5).

/// A parsed `.npmrc`: `key=value` lines, `;`/`#` comments, `${VAR}` substitution as npm does
/// (an unset variable is an error in npm; here it expands to nothing and is reported).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Npmrc {
    entries: Vec<(String, String)>,
    /// Variables referenced but unset.
    pub unset_variables: Vec<String>,
}

impl Npmrc {
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut rc = Npmrc::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = rc.substitute(key.trim(), env);
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            let value = rc.substitute(value, env);
            rc.entries.push((key, value));
        }
        rc
    }

    fn substitute(&mut self, text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let escaped = start > 0 && rest.as_bytes()[start - 1] == b'\\';
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + end];
            if escaped {
                out.push_str(&rest[..start - 1]);
                out.push_str(&rest[start..start + end + 1]);
            } else {
                out.push_str(&rest[..start]);
                match env(name) {
                    Some(v) => out.push_str(&v),
                    None => self.unset_variables.push(name.to_owned()),
                }
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The last value set for `key` (later lines win, as in npm's ini parsing).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value set for `key`, in order (npm's `ca[]=...` lists).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Layers `other` over `self` (e.g. project `.npmrc` over user `.npmrc`).
    pub fn overlay(mut self, other: Npmrc) -> Npmrc {
        self.entries.extend(other.entries);
        self.unset_variables.extend(other.unset_variables);
        self
    }

    /// The registry for a package: `@scope:registry`, else `registry`.
    pub fn registry_for(&self, package_name: &str) -> Option<&str> {
        if let Some(scope) = package_name.strip_prefix('@').and_then(|n| n.split('/').next()) {
            if let Some(r) = self.get(&format!("@{scope}:registry")) {
                return Some(r);
            }
        }
        self.get("registry")
    }

    /// `_authToken` for a registry URL: the longest matching nerf-dart key
    /// (`//host[:port]/path/:_authToken`), walking up the path as npm does.
    pub fn auth_token_for(&self, registry: &str) -> Option<&str> {
        let mut dart = nerf_dart(registry)?;
        loop {
            if let Some(token) = self.get(&format!("{dart}:_authToken")) {
                return Some(token);
            }
            // Drop the last path segment: //host/a/b/ -> //host/a/.
            let trimmed = dart.trim_end_matches('/');
            let cut = trimmed.rfind('/')?;
            if cut <= 1 {
                return None;
            }
            dart = format!("{}/", &trimmed[..cut]);
        }
    }
}

/// npm's "nerf dart" of a registry URL: `//host[:port]/path/` (scheme, auth, query dropped).
pub fn nerf_dart(registry: &str) -> Option<String> {
    let url = url::Url::parse(registry).ok()?;
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path();
    let path = if path.ends_with('/') { path.to_owned() } else { format!("{path}/") };
    Some(format!("//{host}{port}{path}"))
}

/// The placeholder `actions/setup-node` puts in `NODE_AUTH_TOKEN` when no token is given; it
/// is never a real credential (npm sends it anyway and gets a misleading 404).
pub const SETUP_NODE_PLACEHOLDER_TOKEN: &str = "XXXXX-XXXXX-XXXXX-XXXXX";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npmrc_substitutes_env_and_picks_the_token_by_nerf_dart() {
        let env = |k: &str| (k == "NODE_AUTH_TOKEN").then(|| "tok-123".to_owned());
        let rc = Npmrc::parse(
            "; comment\nregistry=https://registry.example/npm/\n@acme:registry=https://acme.example/\n//registry.example/npm/:_authToken=${NODE_AUTH_TOKEN}\n//acme.example/:_authToken=${MISSING}\n",
            &env,
        );
        assert_eq!(rc.registry_for("left-pad"), Some("https://registry.example/npm/"));
        assert_eq!(rc.registry_for("@acme/x"), Some("https://acme.example/"));
        assert_eq!(rc.auth_token_for("https://registry.example/npm/"), Some("tok-123"));
        assert_eq!(rc.auth_token_for("https://registry.example/npm/sub/"), Some("tok-123"));
        assert_eq!(rc.auth_token_for("https://other.example/"), None);
        assert_eq!(rc.auth_token_for("https://acme.example/"), Some(""));
        assert_eq!(rc.unset_variables, vec!["MISSING".to_owned()]);
    }
}
