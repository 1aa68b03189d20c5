//! The one HTTP client: rustls, timeouts, a user agent, response-size caps, a retry policy,
//! and errors that name the service and its answer.
//!
//! Architecture invariant: no other module builds a `reqwest::Client` (checked by
//! `tests/it/architecture.rs`).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::error::{fail, fail_with_hint, ExitKind};
use crate::secret::SecretString;

/// The largest response body read from any service.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub const USER_AGENT: &str = concat!("npm-attest/", env!("CARGO_PKG_VERSION"));

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
pub const DEADLINE_VARIABLE: &str = "NPM_ATTEST_RETRY_DEADLINE_SECS";

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
    retry_after: Option<Duration>,
}

/// The retry loop's state for one call.
struct Retrying<'a> {
    policy: &'a RetryPolicy,
    service: &'a str,
    started: std::time::Instant,
    failures: u32,
}

impl<'a> Retrying<'a> {
    fn new(policy: &'a RetryPolicy, service: &'a str) -> Self {
        Self { policy, service, started: std::time::Instant::now(), failures: 0 }
    }

    /// After a transient failure: waits and returns `Ok` for another attempt, or the error to
    /// give up with (naming the attempts and the time spent when there were retries).
    async fn again(&mut self, failure: Transient) -> anyhow::Result<()> {
        self.failures += 1;
        let elapsed = self.started.elapsed();
        let Some(wait) = self.policy.next_wait(self.failures, elapsed, failure.retry_after, jitter()) else {
            if self.failures == 1 {
                return Err(failure.error);
            }
            crate::report::debug(&format!("{} {} (attempt {}); giving up", self.service, failure.what, self.failures));
            return Err(failure.error.context(crate::error::Exit {
                kind: ExitKind::Remote,
                message: format!(
                    "{} kept failing: {} attempts in {:.1}s",
                    self.service,
                    self.failures,
                    elapsed.as_secs_f64()
                ),
                hint: Some(
                    "the service is having trouble; run the job again later (public Sigstore: https://status.sigstore.dev)"
                        .to_owned(),
                ),
            }));
        };
        // Every retry is said as it happens, not only with --verbose: a silent wait looks hung.
        crate::report::warn(&format!(
            "{} failed ({}); retrying in {} ms (attempt {} of at most {})",
            self.service,
            failure.what,
            wait.as_millis(),
            self.failures + 1,
            self.policy.retries + 1
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
    pub body: Vec<u8>,
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
    retry: RetryPolicy,
}

impl Http {
    /// A client retrying under `retry`, whose deadline `NPM_ATTEST_RETRY_DEADLINE_SECS`
    /// overrides when set.
    pub fn new(retry: RetryPolicy) -> anyhow::Result<Self> {
        let retry = retry.with_env_deadline();
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| fail(ExitKind::Internal, format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client, retry })
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
        let settled = self.exchange(service, &request, MAX_BODY_BYTES, &default_transient).await?;
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
        Ok(self.exchange(service, &request, max_body, &default_transient).await?.response)
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
        Ok(self.exchange(service, &request, max_body, transient).await?.response)
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
    ) -> anyhow::Result<Settled> {
        let mut retrying = Retrying::new(&self.retry, service);
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
                    match read_body_or_cut(service, response, max_body).await? {
                        Ok(response) => match transient(&response) {
                            None => return Ok(Settled { response, gave_up: None }),
                            Some(what) => {
                                let failure =
                                    Transient { error: status_error(service, &response), what, retry_after: wait };
                                if let Err(gave_up) = retrying.again(failure).await {
                                    return Ok(Settled { response, gave_up: Some(gave_up) });
                                }
                                continue;
                            }
                        },
                        Err(cut) => cut,
                    }
                }
                Err(e) => {
                    let transient = e.is_connect() || e.is_timeout() || e.is_request();
                    let text = describe(e);
                    let error = fail_with_hint(
                        ExitKind::Remote,
                        format!("cannot reach {service} at {}: {text}", redact_url(request.url)),
                        "check the URL and the network, then run the command again",
                    );
                    if !transient {
                        return Err(error);
                    }
                    Transient { error, what: format!("request failed: {text}"), retry_after: None }
                }
            };
            retrying.again(failure).await?;
        }
    }
}

/// The retry loop's hook: what went wrong with an answer that another attempt may fix (for the
/// retry line), or `None` when the answer is final.
pub type TransientAnswer<'a> = dyn Fn(&Response) -> Option<String> + Send + Sync + 'a;

/// The policy's own answer classes: 408, 429 and 5xx are worth another attempt.
fn default_transient(response: &Response) -> Option<String> {
    RetryPolicy::is_retryable_status(response.status).then(|| format!("answered {}", response.status.as_u16()))
}

/// The answer the loop settled on, and the give-up error when retries ran out on it.
struct Settled {
    response: Response,
    gave_up: Option<anyhow::Error>,
}

/// The bearer header, marked sensitive (kept out of reqwest's and hyper's debug output).
fn bearer_value(service: &str, token: &SecretString) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| fail(ExitKind::BadInput, format!("the token for {service} is not a valid HTTP header value")))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Reads a body of at most `max_body` bytes: `Ok(Err(Transient))` when the connection ends
/// before the body does (a response cut short, worth another attempt), an error when it is too
/// large.
async fn read_body_or_cut(
    service: &str,
    mut response: reqwest::Response,
    max_body: usize,
) -> anyhow::Result<Result<Response, Transient>> {
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
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max_body {
                    return Err(too_big());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Ok(Err(Transient {
                    what: format!("answered {} but the body was cut short", status.as_u16()),
                    error: fail(ExitKind::Remote, format!("reading the {service} response failed: {}", describe(e))),
                    retry_after: None,
                }))
            }
        }
    }
    Ok(Ok(Response { status, headers, body }))
}

/// `Fulcio answered 401: <message>`, the message taken from a JSON `message` field when the
/// service sends one (Fulcio, Rekor), else the start of the body text.
pub fn status_error(service: &str, response: &Response) -> anyhow::Error {
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
pub fn redact_url(url: &str) -> String {
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
pub fn join(base: &str, path: &str) -> String {
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
        };
        let err = status_error("Fulcio", &response);
        assert_eq!(err.to_string(), "Fulcio answered 401: error processing the identity token");
        let empty = Response { status: StatusCode::BAD_GATEWAY, headers: HeaderMap::new(), body: Vec::new() };
        assert_eq!(status_error("Rekor", &empty).to_string(), "Rekor answered 502: Bad Gateway");
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
