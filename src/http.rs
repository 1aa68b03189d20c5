//! The one HTTP client: rustls, timeouts, a user agent, response-size caps, a retry policy,
//! and errors that name the service and its answer.
//!
//! Architecture invariant: no other module builds a `reqwest::Client` (checked by
//! `tests/it/architecture.rs`).

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::error::{fail, fail_with_hint, ExitKind};
use crate::network::{redact_proxy, NetworkSettings};
use crate::secret::SecretString;

/// The largest response body read from any service.
pub(crate) const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub(crate) const USER_AGENT: &str = concat!("npm-attest/", env!("CARGO_PKG_VERSION"));

/// One policy for every network call (docs/operations.md, "Retry policy"): connection errors,
/// timeouts, bodies cut short, 408, 429 and 5xx are tried again after an exponential backoff
/// with jitter (or the service's `Retry-After`), until `retries` or the overall `deadline`
/// runs out; other 4xx are never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one (before jitter).
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// No retry is started that would begin later than this after the first attempt.
    pub deadline: Duration,
}

/// Overrides the default deadline, in whole seconds.
pub(crate) const DEADLINE_VARIABLE: &str = "NPM_ATTEST_RETRY_DEADLINE_SECS";

impl RetryPolicy {
    pub const NONE: Self =
        Self { retries: 0, first_delay: Duration::ZERO, max_delay: Duration::ZERO, deadline: Duration::ZERO };

    fn is_retryable_status(status: StatusCode) -> bool {
        status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
    }

    /// The backoff before retry `retry` (0 for the first): `first_delay × 2^retry`, capped at
    /// `max_delay`, scaled into its upper half by `jitter` (in [0, 1)) so that clients that
    /// failed together do not retry together.
    fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let full = self.first_delay.saturating_mul(1u32 << retry.min(16)).min(self.max_delay);
        full.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// This policy with its deadline taken from `NPM_ATTEST_RETRY_DEADLINE_SECS` when that is set.
    pub fn with_env_deadline(mut self) -> Self {
        if self.retries > 0 {
            if let Some(seconds) = std::env::var(DEADLINE_VARIABLE).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
                self.deadline = Duration::from_secs(seconds);
            }
        }
        self
    }

    /// The wait before the next attempt after `failures` failed ones and `elapsed` since the
    /// first, or `None` to give up: out of retries, or the wait (the service's `retry_after`
    /// when it sent one) would end past the deadline.
    fn next_wait(
        &self,
        failures: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if failures == 0 || failures > self.retries {
            return None;
        }
        let wait = retry_after.unwrap_or_else(|| self.delay(failures - 1, jitter));
        (elapsed.saturating_add(wait) <= self.deadline).then_some(wait)
    }
}

impl Default for RetryPolicy {
    /// Up to 8 retries within 60 seconds: waits of about 0.5, 1, 2, 4, 8, 10, 10 and 10 seconds.
    fn default() -> Self {
        Self {
            retries: 8,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
        }
    }
}

/// A uniform number in [0, 1) from the system random source (0.5 if it fails: the jitter
/// only spreads retries out).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// A `Retry-After` header: delay seconds or an HTTP date (RFC 9110 §10.2.3); a date in the
/// past is no wait.
fn retry_after(headers: &HeaderMap, now: time::OffsetDateTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(when - now).unwrap_or(Duration::ZERO))
}

/// A failed attempt that another attempt may fix.
struct Transient {
    /// The error to report if no retry follows.
    error: anyhow::Error,
    /// What happened, for the debug log (`answered 503`, `request failed: ...`).
    what: String,
    /// What happened in a word or two, for the retry line (`503`, `connection refused`).
    reason: String,
    retry_after: Option<Duration>,
    /// A refused connection gets a short, bounded retry of its own ([`REFUSED_POLICY`]):
    /// a service that is starting may be about to listen, one that is not running never will.
    refused: bool,
}

/// The retries for a refused connection: two, within about two seconds.
const REFUSED_POLICY: RetryPolicy = RetryPolicy {
    retries: 2,
    first_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(1),
    deadline: Duration::from_secs(3),
};

/// The retry loop's state for one call.
struct Retrying<'a> {
    policy: &'a RetryPolicy,
    service: &'a str,
    url: &'a str,
    started: std::time::Instant,
    failures: u32,
}

impl<'a> Retrying<'a> {
    fn new(policy: &'a RetryPolicy, service: &'a str, url: &'a str) -> Self {
        Self { policy, service, url, started: std::time::Instant::now(), failures: 0 }
    }

    /// After a transient failure: waits and returns `Ok` for another attempt, or the error to
    /// give up with (naming the attempts and the time spent when there were retries).
    async fn again(&mut self, failure: Transient) -> anyhow::Result<()> {
        self.failures += 1;
        let elapsed = self.started.elapsed();
        let policy = if failure.refused && self.policy.retries > 0 { &REFUSED_POLICY } else { self.policy };
        let Some(wait) = policy.next_wait(self.failures, elapsed, failure.retry_after, jitter()) else {
            if self.failures == 1 || failure.refused {
                // The error already says what failed and carries its own hint.
                return Err(failure.error);
            }
            crate::report::debug(&format!("{} {} (attempt {}); giving up", self.service, failure.what, self.failures));
            return Err(failure.error.context(crate::error::Exit {
                kind: ExitKind::Remote,
                message: format!(
                    "{} kept failing: {} attempts in {:.1} s",
                    self.service,
                    self.failures,
                    elapsed.as_secs_f64()
                ),
                hint: Some(trouble_hint(self.service, self.url)),
            }));
        };
        // Every retry is said as it happens, in one line, not only with --verbose: a silent wait
        // looks hung. The details go to the debug log.
        crate::report::warn(&format!("retrying {} in {:.1} s ({})", self.service, wait.as_secs_f64(), failure.reason));
        crate::report::debug(&format!(
            "{} {} (attempt {} of at most {})",
            self.service,
            failure.what,
            self.failures,
            policy.retries + 1
        ));
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// A response whose body was read in full (within [`MAX_BODY_BYTES`]).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body; empty for a success answer to [`Http::download_sha512`], which is hashed as it
    /// arrives instead of kept.
    pub body: Vec<u8>,
    /// The SHA-512 and length of a success body read by [`Http::download_sha512`].
    pub digest: Option<([u8; 64], u64)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self, service: &str) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body)
            .map_err(|e| fail(ExitKind::Remote, format!("{service} answered with invalid JSON: {e}")))
    }
}

/// The client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    settings: &'static NetworkSettings,
    retry: RetryPolicy,
}

struct Shared {
    client: reqwest::Client,
    settings: &'static NetworkSettings,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static SETTINGS: OnceLock<NetworkSettings> = OnceLock::new();

/// The process's client, built on first use from the environment and the `.npmrc` files of the
/// working directory.
fn shared() -> anyhow::Result<&'static Shared> {
    if let Some(shared) = SHARED.get() {
        return Ok(shared);
    }
    let env = |key: &str| std::env::var(key).ok();
    let dir = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let npmrc = crate::network::load_npmrc(&dir, &env)?;
    let settings = NetworkSettings::discover(&env, &npmrc)?;
    let settings: &'static NetworkSettings = SETTINGS.get_or_init(|| settings);
    let client = build_client(settings)?;
    Ok(SHARED.get_or_init(|| Shared { client, settings }))
}

/// rustls with the platform store (or `SSL_CERT_FILE`/`SSL_CERT_DIR`), the webpki roots and the
/// extra CAs; the proxies of `settings` and no others.
fn build_client(settings: &NetworkSettings) -> anyhow::Result<reqwest::Client> {
    // TLS uses the process's one crypto provider, aws-lc-rs (also the verifier's). Installing
    // it fails only when it is already installed, which is what is wanted.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(120))
        .tls_built_in_root_certs(true)
        // The proxies are exactly those of `settings` (which read the same variables reqwest
        // would, and npm's settings over them).
        .no_proxy();
    for ca in &settings.extra_ca {
        let bad = |why: String| {
            fail_with_hint(
                ExitKind::Environment,
                format!("the CA certificates of {} {why}", ca.origin),
                "give a file of PEM certificates (-----BEGIN CERTIFICATE-----)",
            )
        };
        let certs = reqwest::Certificate::from_pem_bundle(&ca.pem).map_err(|e| bad(format!("do not parse: {e}")))?;
        if certs.is_empty() {
            return Err(bad("hold no certificate".to_owned()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(insecure) = &settings.insecure {
        crate::report::warn(&format!(
            "TLS certificates are not checked ({}=false): anyone on the network path can answer for any service",
            insecure.origin
        ));
        builder = builder.danger_accept_invalid_certs(true);
    }
    let no_proxy = settings.no_proxy.as_ref().and_then(|s| reqwest::NoProxy::from_string(&s.value));
    for (setting, https) in [(&settings.https_proxy, true), (&settings.http_proxy, false)] {
        let Some(setting) = setting else { continue };
        let proxy = if https { reqwest::Proxy::https(&setting.value) } else { reqwest::Proxy::http(&setting.value) };
        let proxy = proxy.map_err(|e| {
            fail_with_hint(
                ExitKind::Environment,
                format!(
                    "the proxy {} (from {}) is not a usable URL: {e}",
                    redact_proxy(&setting.value),
                    setting.origin
                ),
                format!("fix or unset {}", setting.origin),
            )
        })?;
        crate::report::debug(&format!(
            "{} requests go through the proxy {} (from {})",
            if https { "https" } else { "http" },
            redact_proxy(&setting.value),
            setting.origin
        ));
        builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
    }
    builder.build().map_err(|e| fail(ExitKind::Internal, format!("cannot build the HTTP client: {e}")))
}

impl Http {
    /// A client retrying under `retry`, whose deadline `NPM_ATTEST_RETRY_DEADLINE_SECS`
    /// overrides when set.
    /// The client and its network settings (`crate::network`) are made once per process.
    pub fn new(retry: RetryPolicy) -> anyhow::Result<Self> {
        let retry = retry.with_env_deadline();
        let shared = shared()?;
        Ok(Self { client: shared.client.clone(), settings: shared.settings, retry })
    }

    /// The network settings the client was built with.
    pub fn settings(&self) -> &NetworkSettings {
        self.settings
    }

    /// `POST url` with a JSON body; any 2xx is returned, other statuses are errors naming
    /// `service`, except those listed in `accept` (for example Rekor's 409).
    pub async fn post_json(
        &self,
        service: &str,
        url: &str,
        body: &Value,
        accept: &[StatusCode],
    ) -> anyhow::Result<Response> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| fail(ExitKind::Internal, format!("cannot encode the {service} request: {e}")))?;
        self.send(service, Method::POST, url, Some(bytes), None, accept).await
    }

    /// `GET url` expecting JSON, optionally with a bearer token.
    pub async fn get_json(&self, service: &str, url: &str, bearer: Option<&SecretString>) -> anyhow::Result<Response> {
        self.send(service, Method::GET, url, None, bearer, &[]).await
    }

    /// A JSON call whose non-2xx answers (other than `accept`) are errors naming `service`.
    async fn send(
        &self,
        service: &str,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&SecretString>,
        accept: &[StatusCode],
    ) -> anyhow::Result<Response> {
        let mut headers = vec![("accept", "application/json".to_owned())];
        if body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        let request = Request { method, url, headers: &headers, bearer, body };
        let settled = self.exchange(service, &request, MAX_BODY_BYTES, &default_transient, Keep::Body).await?;
        let status = settled.response.status;
        if status.is_success() || accept.contains(&status) {
            return Ok(settled.response);
        }
        Err(settled.gave_up.unwrap_or_else(|| status_error(service, &settled.response)))
    }

    /// Sends one request and returns the final response whatever its status: the caller
    /// judges it (registries answer errors with their own JSON). Connection failures and
    /// retryable statuses (408, 429, 5xx) are retried under the client's policy; the body is
    /// read up to `max_body` bytes.
    pub async fn request(&self, service: &str, request: Request<'_>, max_body: usize) -> anyhow::Result<Response> {
        Ok(self.exchange(service, &request, max_body, &default_transient, Keep::Body).await?.response)
    }

    /// [`Http::request`] for a download that only needs its digest (a registry tarball checked
    /// against its integrity): a success body is hashed (SHA-512) as it arrives and never held
    /// in memory; [`Response::digest`] has the result. Other answers are kept, for their message.
    pub async fn download_sha512(
        &self,
        service: &str,
        request: Request<'_>,
        max_body: usize,
    ) -> anyhow::Result<Response> {
        Ok(self.exchange(service, &request, max_body, &default_transient, Keep::DigestOfSuccess).await?.response)
    }

    /// [`Http::request`] for a service that decides itself which answers are worth another
    /// attempt (GitHub's attestations API also retries its rate-limit 403s): `transient` returns
    /// what went wrong for the retry line, or `None` for a final answer.
    pub async fn request_classified(
        &self,
        service: &str,
        request: Request<'_>,
        max_body: usize,
        transient: &TransientAnswer<'_>,
    ) -> anyhow::Result<Response> {
        Ok(self.exchange(service, &request, max_body, transient, Keep::Body).await?.response)
    }

    /// The one retry loop: sends `request` until an answer is final (`transient` says `None`),
    /// or the policy runs out (then the last answer is returned with the give-up error).
    /// Connection failures, timeouts and bodies cut short are retried; any other failure to
    /// send is an error at once.
    async fn exchange(
        &self,
        service: &str,
        request: &Request<'_>,
        max_body: usize,
        transient: &TransientAnswer<'_>,
        keep: Keep,
    ) -> anyhow::Result<Settled> {
        let mut retrying = Retrying::new(&self.retry, service, request.url);
        loop {
            let mut builder = self.client.request(request.method.clone(), request.url);
            for (name, value) in request.headers {
                builder = builder.header(*name, value.as_str());
            }
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            if let Some(token) = request.bearer {
                builder = builder.header(AUTHORIZATION, bearer_value(service, token)?);
            }
            let failure = match builder.send().await {
                Ok(response) => {
                    let wait = retry_after(response.headers(), crate::clock::now_utc());
                    match read_body_or_cut(service, response, max_body, keep).await? {
                        Ok(response) => match transient(&response) {
                            None => return Ok(Settled { response, gave_up: None }),
                            Some(what) => {
                                let failure = Transient {
                                    error: status_error(service, &response),
                                    what,
                                    reason: response.status.as_u16().to_string(),
                                    retry_after: wait,
                                    refused: false,
                                };
                                if let Err(gave_up) = retrying.again(failure).await {
                                    return Ok(Settled { response, gave_up: Some(gave_up) });
                                }
                                continue;
                            }
                        },
                        Err(cut) => cut,
                    }
                }
                Err(e) => self.send_failure(service, request.url, e)?,
            };
            retrying.again(failure).await?;
        }
    }
}

/// The retry loop's hook: what went wrong with an answer that another attempt may fix (for the
/// retry line), or `None` when the answer is final.
pub(crate) type TransientAnswer<'a> = dyn Fn(&Response) -> Option<String> + Send + Sync + 'a;

/// The policy's own answer classes: 408, 429 and 5xx are worth another attempt.
fn default_transient(response: &Response) -> Option<String> {
    RetryPolicy::is_retryable_status(response.status).then(|| format!("answered {}", response.status.as_u16()))
}

/// What the retry loop keeps of a body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    Body,
    /// A success body's SHA-512 and length only (a retry starts the hash again).
    DigestOfSuccess,
}

/// The answer the loop settled on, and the give-up error when retries ran out on it.
struct Settled {
    response: Response,
    gave_up: Option<anyhow::Error>,
}

impl Http {
    /// A request that got no answer: `Err` when another attempt cannot help (an untrusted
    /// certificate, a name that does not resolve), else the failure for the retry loop. Each
    /// error carries one hint, naming the setting or the service to look at.
    fn send_failure(&self, service: &str, url: &str, e: reqwest::Error) -> anyhow::Result<Transient> {
        let class = SendFailure::of(&e);
        let retryable = e.is_connect() || e.is_timeout() || e.is_request();
        let text = describe(e);
        let target = redact_url(url);
        let via = self
            .settings
            .proxy_for(url)
            .map(|p| format!(" through the proxy {} (from {})", redact_proxy(&p.value), p.origin))
            .unwrap_or_default();
        let message = format!("cannot reach {service} at {target}{via}: {text}");
        match class {
            SendFailure::Certificate => {
                Err(fail_with_hint(ExitKind::Environment, message, self.settings.untrusted_certificate_hint()))
            }
            SendFailure::Dns => {
                let hint = match url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)) {
                    Some(host) => format!("the host name {host} does not resolve: check the URL and the network's DNS"),
                    None => "check the URL and the network's DNS".to_owned(),
                };
                Err(fail_with_hint(ExitKind::Remote, message, hint))
            }
            SendFailure::Refused => {
                let hint = if !via.is_empty() {
                    format!("nothing accepted the connection{via}: check that setting and that the proxy is running")
                } else if is_local(url) {
                    format!("nothing is listening at {}: start {service} or fix its URL", origin(url))
                } else {
                    format!("{} refused the connection: check the URL, the port and any firewall", origin(url))
                };
                let error = fail_with_hint(ExitKind::Remote, message, hint);
                Ok(Transient {
                    error,
                    what: format!("request failed: {text}"),
                    reason: "connection refused".to_owned(),
                    retry_after: None,
                    refused: true,
                })
            }
            SendFailure::Other if retryable => {
                let reason =
                    if text.contains("timed out") || text.contains("timeout") { "timed out" } else { "no answer" };
                Ok(Transient {
                    error: fail_with_hint(ExitKind::Remote, message, trouble_hint(service, url)),
                    what: format!("request failed: {text}"),
                    reason: reason.to_owned(),
                    retry_after: None,
                    refused: false,
                })
            }
            SendFailure::Other => Err(fail_with_hint(ExitKind::Remote, message, trouble_hint(service, url))),
        }
    }
}

/// Why a request got no answer, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendFailure {
    /// The server's certificate is not trusted (or not valid for the name): deterministic.
    Certificate,
    /// The host name does not resolve: deterministic.
    Dns,
    /// Nothing listens there: a short, bounded retry.
    Refused,
    Other,
}

impl SendFailure {
    fn of(e: &reqwest::Error) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut refused = false;
        let mut texts = String::new();
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
                // An io::Error's `source()` skips the error it wraps (rustls puts its own there).
                if let Some(inner) = io.get_ref() {
                    texts.push_str(&inner.to_string());
                    texts.push('\n');
                }
            }
            texts.push_str(&s.to_string());
            texts.push('\n');
            source = s.source();
        }
        // rustls: "invalid peer certificate: UnknownIssuer" (and NotValidForName, Expired, ...).
        if texts.contains("invalid peer certificate") || texts.contains("certificate verify failed") {
            Self::Certificate
        } else if texts.contains("dns error") || texts.contains("failed to lookup address") {
            Self::Dns
        } else if refused || texts.contains("Connection refused") {
            Self::Refused
        } else {
            Self::Other
        }
    }
}

/// `http://127.0.0.1:4873` (scheme, host and port of `url`).
fn origin(url: &str) -> String {
    url::Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| redact_url(url))
}

fn is_local(url: &str) -> bool {
    match url::Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        None => false,
    }
}

/// After retries ran out: where to look, for the service that failed (its own status page, or
/// the local address), never another service's.
fn trouble_hint(service: &str, url: &str) -> String {
    let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase)).unwrap_or_default();
    let ends = |suffix: &str| host == suffix || host.ends_with(&format!(".{suffix}"));
    let page = if is_local(url) {
        return format!("{service} at {} is local: check that it is running and read its log", origin(url));
    } else if ends("sigstore.dev") {
        "https://status.sigstore.dev"
    } else if ends("npmjs.org") || ends("npmjs.com") {
        "https://status.npmjs.org"
    } else if ends("github.com") || ends("githubusercontent.com") || ends("ghcr.io") {
        "https://www.githubstatus.com"
    } else {
        return format!("{service} at {} is having trouble: run the job again later", origin(url));
    };
    format!("{service} is having trouble: run the job again later (status: {page})")
}

/// The bearer header, marked sensitive (kept out of reqwest's and hyper's debug output).
fn bearer_value(service: &str, token: &SecretString) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| fail(ExitKind::BadInput, format!("the token for {service} is not a valid HTTP header value")))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Reads a body of at most `max_body` bytes (or, with [`Keep::DigestOfSuccess`] and a success
/// status, hashes it): `Ok(Err(Transient))` when the connection ends before the body does (a
/// response cut short, worth another attempt), an error when it is too large.
async fn read_body_or_cut(
    service: &str,
    mut response: reqwest::Response,
    max_body: usize,
    keep: Keep,
) -> anyhow::Result<Result<Response, Transient>> {
    use sha2::Digest as _;
    let status = response.status();
    let headers = response.headers().clone();
    let too_big = || {
        let limit = if max_body % (1024 * 1024) == 0 {
            format!("{} MiB", max_body / (1024 * 1024))
        } else {
            format!("{max_body} bytes")
        };
        fail(ExitKind::Remote, format!("{service} response is larger than {limit}"))
    };
    if response.content_length().is_some_and(|n| n > max_body as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    let mut hasher = (keep == Keep::DigestOfSuccess && status.is_success()).then(sha2::Sha512::new);
    let mut length: usize = 0;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                length = length.saturating_add(chunk.len());
                if length > max_body {
                    return Err(too_big());
                }
                match &mut hasher {
                    Some(hasher) => hasher.update(&chunk),
                    None => body.extend_from_slice(&chunk),
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Ok(Err(Transient {
                    what: format!("answered {} but the body was cut short", status.as_u16()),
                    reason: "answer cut short".to_owned(),
                    error: fail(ExitKind::Remote, format!("reading the {service} response failed: {}", describe(e))),
                    retry_after: None,
                    refused: false,
                }))
            }
        }
    }
    let digest = hasher.map(|h| (h.finalize().into(), length as u64));
    Ok(Ok(Response { status, headers, body, digest }))
}

/// `Fulcio answered 401: <message>`, the message taken from a JSON `message` field when the
/// service sends one (Fulcio, Rekor), else the start of the body text.
pub(crate) fn status_error(service: &str, response: &Response) -> anyhow::Error {
    let from_json = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    let message = from_json.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&response.body);
        let text = text.trim();
        let short: String = text.chars().take(200).collect();
        if short.is_empty() {
            response.status.canonical_reason().unwrap_or("no message").to_owned()
        } else {
            short
        }
    });
    fail(ExitKind::Remote, format!("{service} answered {}: {}", response.status.as_u16(), message.replace('\n', " ")))
}

/// The error text without reqwest's URL (which may carry query parameters) and with its causes.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Scheme, host, port and path only: query strings (which may carry tokens) are dropped.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// Joins a base URL (with or without a trailing `/`) and an absolute API path.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// One request for [`Http::request`].
#[derive(Debug)]
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    /// Extra headers (`content-type`, `accept`, `npm-command`, ...).
    pub headers: &'a [(&'a str, String)],
    pub bearer: Option<&'a SecretString>,
    pub body: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_service_status_and_message() {
        let response = Response {
            status: StatusCode::UNAUTHORIZED,
            headers: HeaderMap::new(),
            body: br#"{"code":16,"message":"error processing the identity token"}"#.to_vec(),
            digest: None,
        };
        let err = status_error("Fulcio", &response);
        assert_eq!(err.to_string(), "Fulcio answered 401: error processing the identity token");
        let empty =
            Response { status: StatusCode::BAD_GATEWAY, headers: HeaderMap::new(), body: Vec::new(), digest: None };
        assert_eq!(status_error("Rekor", &empty).to_string(), "Rekor answered 502: Bad Gateway");
    }

    #[test]
    fn give_up_hints_name_the_failing_service_own_status_page_or_local_address() {
        let hint = |service: &str, url: &str| trouble_hint(service, url);
        assert_eq!(
            hint("Rekor", "https://rekor.sigstore.dev/api/v1/log/entries"),
            "Rekor is having trouble: run the job again later (status: https://status.sigstore.dev)"
        );
        let npm = hint("the registry", "https://registry.npmjs.org/sigstore");
        assert!(npm.ends_with("(status: https://status.npmjs.org)") && !npm.contains("sigstore.dev"), "{npm}");
        assert!(hint("the GitHub Actions OIDC runtime", "https://pipelines.actions.githubusercontent.com/x/token")
            .ends_with("(status: https://www.githubstatus.com)"));
        assert!(hint("the GitHub attestations API", "https://api.github.com/repos/o/r/attestations")
            .ends_with("(status: https://www.githubstatus.com)"));
        assert_eq!(
            hint("the registry", "http://127.0.0.1:4873/pkg"),
            "the registry at http://127.0.0.1:4873 is local: check that it is running and read its log"
        );
        assert_eq!(
            hint("the registry", "https://npm.corp.example/pkg"),
            "the registry at https://npm.corp.example is having trouble: run the job again later"
        );
    }

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            redact_url("https://runner.example/token?api-version=2.0&audience=sigstore"),
            "https://runner.example/token"
        );
        assert_eq!(join("http://127.0.0.1:9/", "/api/v1/log/entries"), "http://127.0.0.1:9/api/v1/log/entries");
    }

    #[test]
    fn retry_policy_backs_off_and_picks_statuses() {
        let p = RetryPolicy::default();
        // Jitter scales each wait into the upper half of the exponential step.
        assert_eq!(p.delay(0, 0.0), Duration::from_millis(250));
        assert_eq!(p.delay(0, 1.0), Duration::from_millis(500));
        assert_eq!(p.delay(1, 1.0), Duration::from_millis(1000));
        assert_eq!(p.delay(30, 1.0), p.max_delay);
        assert!(RetryPolicy::is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(RetryPolicy::is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(RetryPolicy::is_retryable_status(StatusCode::REQUEST_TIMEOUT));
        assert!(!RetryPolicy::is_retryable_status(StatusCode::CONFLICT));
        assert!(!RetryPolicy::is_retryable_status(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn retries_stop_at_the_count_or_the_deadline() {
        let p = RetryPolicy {
            retries: 3,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            deadline: Duration::from_secs(10),
        };
        let s = Duration::from_secs;
        assert_eq!(p.next_wait(1, s(0), None, 1.0), Some(s(1)));
        assert_eq!(p.next_wait(3, s(0), None, 1.0), Some(s(4)));
        assert_eq!(p.next_wait(4, s(0), None, 1.0), None, "out of retries");
        assert_eq!(p.next_wait(2, s(9), None, 1.0), None, "the wait would end past the deadline");
        assert_eq!(p.next_wait(2, s(9), None, 0.0), Some(s(1)));
        // The service's Retry-After replaces the backoff, within the deadline.
        assert_eq!(p.next_wait(1, s(0), Some(s(7)), 1.0), Some(s(7)));
        assert_eq!(p.next_wait(1, s(5), Some(s(7)), 1.0), None);
        assert_eq!(RetryPolicy::NONE.next_wait(1, s(0), None, 0.5), None);
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = time::macros::datetime!(1994-11-06 08:49:30 UTC);
        let header = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            h
        };
        assert_eq!(retry_after(&header("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&header("Sun, 06 Nov 1994 08:49:37 GMT"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&header("Sun, 06 Nov 1994 08:49:00 GMT"), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&header("soon"), now), None);
        assert_eq!(retry_after(&header("-5"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
