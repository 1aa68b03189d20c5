//! Where the network settings come from: the certificates to trust and the proxies to go
//! through, read from the environment and npm's configuration the way npm and Node read them.
//! `http.rs` applies them to the one client.
//!
//! Trust: the platform's certificate store (replaced by `SSL_CERT_FILE`/`SSL_CERT_DIR` when
//! they are set, as OpenSSL does), the webpki roots as the fallback, plus every certificate of
//! `NODE_EXTRA_CA_CERTS` and npm's `cafile`/`ca`. npm's `strict-ssl=false` turns certificate
//! checks off, with a warning. Deviation from npm: there `ca`/`cafile` replace Node's roots for
//! registry requests; here they are added, because the same client also talks to Sigstore and
//! GitHub.
//!
//! Proxies: https URLs go through npm's `https-proxy`, else its `proxy`, else `HTTPS_PROXY`
//! (`https_proxy`); http URLs through npm's `proxy`, else `HTTP_PROXY` (`http_proxy`). Hosts
//! listed in npm's `noproxy`, else `NO_PROXY` (`no_proxy`), are reached directly. npm's settings
//! are read from `npm_config_*` variables first, then from the `.npmrc` files
//! ([`load_npmrc`]: the user's with the project's over it).

use std::io::Read as _;
use std::path::Path;

use crate::core::npm::npmrc::Npmrc;
use crate::error::{fail_with_hint, ExitKind};

/// The largest `.npmrc` read.
const MAX_NPMRC_BYTES: u64 = 1024 * 1024;

/// The largest CA file read (`NODE_EXTRA_CA_CERTS`, `cafile`, `SSL_CERT_FILE` check).
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A value and the setting it came from (`HTTPS_PROXY`, `https-proxy in .npmrc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub origin: String,
}

/// PEM certificates to trust in addition to the built-in roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraCa {
    /// Where they came from, for messages: `NODE_EXTRA_CA_CERTS=/etc/corp.pem`.
    pub origin: String,
    pub pem: Vec<u8>,
}

/// The network settings of this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    pub extra_ca: Vec<ExtraCa>,
    /// `SSL_CERT_FILE=...`/`SSL_CERT_DIR=...` when they replace the platform store.
    pub platform_store_replaced_by: Vec<String>,
    /// Set when certificate checks are off (`strict-ssl=false`).
    pub insecure: Option<Setting>,
    pub https_proxy: Option<Setting>,
    pub http_proxy: Option<Setting>,
    pub no_proxy: Option<Setting>,
}

impl NetworkSettings {
    /// Reads the settings from `env` and `npmrc` (the files that apply to `project_dir`).
    pub fn discover(env: &dyn Fn(&str) -> Option<String>, npmrc: &Npmrc) -> anyhow::Result<Self> {
        let mut settings = Self::default();
        let npm = |key: &str| npm_setting(env, npmrc, key);

        for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            if let Some(value) = non_empty(env, var) {
                settings.platform_store_replaced_by.push(format!("{var}={value}"));
            }
        }
        if let Some(file) = non_empty(env, "SSL_CERT_FILE") {
            // rustls-native-certs skips a file it cannot read; say so instead of failing later
            // with an unknown issuer.
            read_ca_file(Path::new(&file), "SSL_CERT_FILE")?;
        }
        if let Some(dirs) = non_empty(env, "SSL_CERT_DIR") {
            let separator = if cfg!(windows) { ';' } else { ':' };
            for dir in dirs.split(separator).filter(|d| !d.is_empty()) {
                if !Path::new(dir).is_dir() {
                    return Err(fail_with_hint(
                        ExitKind::Environment,
                        format!("SSL_CERT_DIR names {dir}, which is not a directory"),
                        "point SSL_CERT_DIR at a directory of PEM certificates, or unset it",
                    ));
                }
            }
        }
        if let Some(file) = non_empty(env, "NODE_EXTRA_CA_CERTS") {
            let pem = read_ca_file(Path::new(&file), "NODE_EXTRA_CA_CERTS")?;
            settings.extra_ca.push(ExtraCa { origin: format!("NODE_EXTRA_CA_CERTS={file}"), pem });
        }
        if let Some(file) = npm("cafile") {
            let origin = format!("cafile={} ({})", file.value, file.origin);
            let pem = read_ca_file(Path::new(&file.value), &format!("cafile ({})", file.origin))?;
            settings.extra_ca.push(ExtraCa { origin, pem });
        }
        // `ca` is one PEM string or, as `ca[]`, a list of them; `\n` is written escaped.
        let inline: Vec<(String, String)> = match npm_env(env, "ca") {
            Some(s) => vec![(s.value, s.origin)],
            None => npmrc
                .get_all("ca")
                .chain(npmrc.get_all("ca[]"))
                .filter(|v| is_set(v))
                .map(|v| (v.to_owned(), "ca in .npmrc".to_owned()))
                .collect(),
        };
        for (value, origin) in inline {
            settings.extra_ca.push(ExtraCa { origin, pem: value.replace("\\n", "\n").into_bytes() });
        }
        if let Some(strict) = npm("strict-ssl") {
            if strict.value.eq_ignore_ascii_case("false") {
                settings.insecure = Some(strict);
            }
        }

        settings.https_proxy =
            npm("https-proxy").or_else(|| npm("proxy")).or_else(|| env_setting(env, &["HTTPS_PROXY", "https_proxy"]));
        settings.http_proxy = npm("proxy").or_else(|| env_setting(env, &["HTTP_PROXY", "http_proxy"]));
        settings.no_proxy = npm("noproxy").or_else(|| env_setting(env, &["NO_PROXY", "no_proxy"]));
        Ok(settings)
    }

    /// What is trusted, for messages: `the platform store, the webpki roots and NODE_EXTRA_CA_CERTS=/x`.
    pub fn trust_summary(&self) -> String {
        let mut parts = vec![if self.platform_store_replaced_by.is_empty() {
            "the platform certificate store".to_owned()
        } else {
            self.platform_store_replaced_by.join(", ")
        }];
        parts.push("the webpki roots".to_owned());
        parts.extend(self.extra_ca.iter().map(|ca| ca.origin.clone()));
        parts.join(", ")
    }

    /// The hint for a certificate the client did not trust: the settings that would add a CA.
    pub fn untrusted_certificate_hint(&self) -> String {
        format!(
            "a TLS-inspecting proxy or a private CA may be in the way: give its CA certificate (PEM) with \
             NODE_EXTRA_CA_CERTS=PATH, SSL_CERT_FILE=PATH or cafile=PATH in .npmrc (trusted now: {})",
            self.trust_summary()
        )
    }

    /// `through the proxy http://proxy:8080 (HTTPS_PROXY)` when one applies to `url`'s scheme,
    /// for messages (credentials removed).
    pub fn proxy_for(&self, url: &str) -> Option<&Setting> {
        let proxy = if url.starts_with("https:") { self.https_proxy.as_ref() } else { self.http_proxy.as_ref() }?;
        Some(proxy)
    }
}

/// A proxy URL without its credentials, for messages.
pub(crate) fn redact_proxy(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "<a proxy URL that does not parse>".to_owned(),
    }
}

/// The `.npmrc` files npm would read for a project in `project_dir`: the user's
/// (`NPM_CONFIG_USERCONFIG`, else `~/.npmrc`) with the project's layered over it.
pub fn load_npmrc(project_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Npmrc> {
    let user = non_empty(env, "NPM_CONFIG_USERCONFIG")
        .or_else(|| non_empty(env, "npm_config_userconfig"))
        .map(std::path::PathBuf::from)
        .or_else(|| non_empty(env, "HOME").map(|h| Path::new(&h).join(".npmrc")));
    let mut rc = Npmrc::default();
    for path in user.into_iter().chain(std::iter::once(project_dir.join(".npmrc"))) {
        if let Some(text) = read_npmrc(&path)? {
            rc = rc.overlay(Npmrc::parse(&text, env));
        }
    }
    Ok(rc)
}

fn read_npmrc(path: &Path) -> anyhow::Result<Option<String>> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(crate::error::fail(ExitKind::Environment, format!("cannot read {}: {e}", path.display())))
        }
    };
    let mut text = String::new();
    file.take(MAX_NPMRC_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| crate::error::fail(ExitKind::BadInput, format!("cannot read {}: {e}", path.display())))?;
    if text.len() as u64 > MAX_NPMRC_BYTES {
        return Err(crate::error::fail(
            ExitKind::BadInput,
            format!("{} is larger than {MAX_NPMRC_BYTES} bytes", path.display()),
        ));
    }
    crate::report::debug(&format!("read {}", path.display()));
    Ok(Some(text))
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// npm treats `null` (and an empty value) as unset.
fn is_set(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty() && v != "null"
}

fn env_setting(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<Setting> {
    names.iter().find_map(|name| non_empty(env, name).map(|value| Setting { value, origin: (*name).to_owned() }))
}

/// npm's own variables: `npm_config_https_proxy` (as npm sets it for scripts) or
/// `NPM_CONFIG_HTTPS_PROXY`.
fn npm_env(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<Setting> {
    let lower = format!("npm_config_{}", key.replace('-', "_"));
    let upper = lower.to_ascii_uppercase();
    [lower, upper]
        .into_iter()
        .find_map(|name| non_empty(env, &name).filter(|v| is_set(v)).map(|value| Setting { value, origin: name }))
}

fn npm_setting(env: &dyn Fn(&str) -> Option<String>, npmrc: &Npmrc, key: &str) -> Option<Setting> {
    npm_env(env, key).or_else(|| {
        npmrc
            .get(key)
            .filter(|v| is_set(v))
            .map(|v| Setting { value: v.trim().to_owned(), origin: format!("{key} in .npmrc") })
    })
}

/// Reads a PEM file named by `setting`; an unreadable or empty one is an error naming it.
fn read_ca_file(path: &Path, setting: &str) -> anyhow::Result<Vec<u8>> {
    let hint = format!("point {setting} at a readable PEM file of CA certificates, or unset it");
    let mut pem = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_CA_FILE_BYTES + 1).read_to_end(&mut pem)).map_err(|e| {
        fail_with_hint(ExitKind::Environment, format!("cannot read {} (from {setting}): {e}", path.display()), &hint)
    })?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(fail_with_hint(
            ExitKind::Environment,
            format!("{} (from {setting}) is larger than {} MiB", path.display(), MAX_CA_FILE_BYTES / (1024 * 1024)),
            hint,
        ));
    }
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(fail_with_hint(
            ExitKind::Environment,
            format!("{} (from {setting}) holds no PEM certificate", path.display()),
            hint,
        ));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn npm_proxy_settings_win_over_the_environment() {
        let rc = Npmrc::parse("https-proxy=http://corp:3128\nnoproxy=internal.example\n", &|_| None);
        let e = env(&[("HTTPS_PROXY", "http://other:1"), ("HTTP_PROXY", "http://plain:2"), ("NO_PROXY", "x")]);
        let s = NetworkSettings::discover(&e, &rc).unwrap();
        assert_eq!(s.https_proxy.as_ref().unwrap().value, "http://corp:3128");
        assert_eq!(s.https_proxy.as_ref().unwrap().origin, "https-proxy in .npmrc");
        assert_eq!(s.http_proxy.as_ref().unwrap().origin, "HTTP_PROXY");
        assert_eq!(s.no_proxy.as_ref().unwrap().value, "internal.example");
        // npm's variables win over the file; `null` is unset.
        let e = env(&[("npm_config_https_proxy", "http://script:9"), ("https_proxy", "http://low:1")]);
        let rc = Npmrc::parse("https-proxy=null\nproxy=null\n", &|_| None);
        let s = NetworkSettings::discover(&e, &rc).unwrap();
        assert_eq!(s.https_proxy.unwrap().origin, "npm_config_https_proxy");
        let s = NetworkSettings::discover(&env(&[("https_proxy", "http://low:1")]), &rc).unwrap();
        assert_eq!(s.https_proxy.unwrap().origin, "https_proxy");
    }

    #[test]
    fn inline_ca_lists_and_strict_ssl_are_read() {
        let rc = Npmrc::parse(
            "ca[]=\"-----BEGIN CERTIFICATE-----\\nAAA\\n-----END CERTIFICATE-----\"\nca[]=\"-----BEGIN CERTIFICATE-----\\nBBB\\n-----END CERTIFICATE-----\"\nstrict-ssl=false\n",
            &|_| None,
        );
        let s = NetworkSettings::discover(&env(&[]), &rc).unwrap();
        assert_eq!(s.extra_ca.len(), 2);
        assert!(s.extra_ca[0].pem.starts_with(b"-----BEGIN CERTIFICATE-----\nAAA\n"));
        assert_eq!(s.insecure.unwrap().origin, "strict-ssl in .npmrc");
    }

    #[test]
    fn an_unreadable_ca_file_is_an_error_naming_the_setting() {
        let err =
            NetworkSettings::discover(&env(&[("NODE_EXTRA_CA_CERTS", "/nonexistent/corp.pem")]), &Npmrc::default())
                .unwrap_err();
        let text = crate::error::render(&err);
        assert!(text.contains("/nonexistent/corp.pem (from NODE_EXTRA_CA_CERTS)"), "{text}");
        assert!(text.contains("hint: point NODE_EXTRA_CA_CERTS at"), "{text}");
    }
}
