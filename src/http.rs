//! The one HTTP client: rustls, timeouts, a user agent, response-size caps, a retry policy,
//! and errors that name the service and its answer.
//!
//! Architecture invariant: no other module builds a `reqwest::Client` (checked by
//! `tests/it/architecture.rs`).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::error::{fail, fail_with_hint, ExitKind};
use crate::secret::SecretString;

/// The largest response body read from any service.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub const USER_AGENT: &str = concat!("npm-attest/", env!("CARGO_PKG_VERSION"));

/// When to try a request again: connection errors, 408, 429 and 5xx (as sigstore-js's
/// `external/fetch.ts` does), with exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub first_delay: Duration,
}

impl RetryPolicy {
    pub const NONE: Self = Self {
        retries: 0,
        first_delay: Duration::ZERO,
    };

    fn is_retryable_status(status: StatusCode) -> bool {
        status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
    }

    fn delay(&self, attempt: u32) -> Duration {
        self.first_delay.saturating_mul(1u32 << attempt.min(8))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 2,
            first_delay: Duration::from_millis(500),
        }
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
        serde_json::from_slice(&self.body).map_err(|e| {
            fail(
                ExitKind::Remote,
                format!("{service} answered with invalid JSON: {e}"),
            )
        })
    }
}

/// The client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl Http {
    pub fn new(retry: RetryPolicy) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| {
                fail(
                    ExitKind::Internal,
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
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
        let bytes = serde_json::to_vec(body).map_err(|e| {
            fail(
                ExitKind::Internal,
                format!("cannot encode the {service} request: {e}"),
            )
        })?;
        self.send(service, Method::POST, url, Some(bytes), None, accept)
            .await
    }

    /// One `POST url` with a JSON body, a bearer token and extra headers, without retries: every
    /// answer is returned, whatever its status, for the caller to classify and retry (the GitHub
    /// attestations API, see `crate::github`).
    pub async fn post_json_once(
        &self,
        service: &str,
        url: &str,
        body: &Value,
        bearer: &SecretString,
        headers: &[(&'static str, &str)],
    ) -> anyhow::Result<Response> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            fail(
                ExitKind::Internal,
                format!("cannot encode the {service} request: {e}"),
            )
        })?;
        let mut request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, format!("Bearer {}", bearer.expose()))
            .body(bytes);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.send().await {
            Ok(response) => read_body(service, response).await,
            Err(e) => Err(fail(
                ExitKind::Remote,
                format!(
                    "cannot reach {service} at {}: {}",
                    redact_url(url),
                    describe(e)
                ),
            )),
        }
    }

    /// `GET url` expecting JSON, optionally with a bearer token.
    pub async fn get_json(
        &self,
        service: &str,
        url: &str,
        bearer: Option<&SecretString>,
    ) -> anyhow::Result<Response> {
        self.send(service, Method::GET, url, None, bearer, &[])
            .await
    }

    async fn send(
        &self,
        service: &str,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&SecretString>,
        accept: &[StatusCode],
    ) -> anyhow::Result<Response> {
        let mut attempt = 0u32;
        loop {
            let mut request = self
                .client
                .request(method.clone(), url)
                .header(ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            if let Some(token) = bearer {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        fail(
                            ExitKind::BadInput,
                            format!("the token for {service} is not a valid HTTP header value"),
                        )
                    })?;
                // Keeps the token out of reqwest's and hyper's debug output.
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() || accept.contains(&status) {
                        return read_body(service, response).await;
                    }
                    if !(RetryPolicy::is_retryable_status(status) && attempt < self.retry.retries) {
                        let response = read_body(service, response).await?;
                        return Err(status_error(service, &response));
                    }
                    crate::report::debug(&format!("{service} answered {status}, retrying"));
                }
                Err(e) => {
                    let transient = e.is_connect() || e.is_timeout() || e.is_request();
                    if !(transient && attempt < self.retry.retries) {
                        return Err(fail_with_hint(
                            ExitKind::Remote,
                            format!(
                                "cannot reach {service} at {}: {}",
                                redact_url(url),
                                describe(e)
                            ),
                            "check the service URL and the network (public Sigstore: https://status.sigstore.dev)",
                        ));
                    }
                    crate::report::debug(&format!("{service} request failed, retrying"));
                }
            }
            tokio::time::sleep(self.retry.delay(attempt)).await;
            attempt += 1;
        }
    }

    /// Sends one request and returns the final response whatever its status: the caller
    /// judges it (registries answer errors with their own JSON). Connection failures and
    /// retryable statuses (408, 429, 5xx) are retried under the client's policy; the body is
    /// read up to `max_body` bytes.
    pub async fn request(&self, service: &str, request: Request<'_>, max_body: usize) -> anyhow::Result<Response> {
        let mut attempt = 0u32;
        loop {
            let mut builder = self.client.request(request.method.clone(), request.url);
            for (name, value) in request.headers {
                builder = builder.header(*name, value.as_str());
            }
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            if let Some(token) = request.bearer {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    fail(ExitKind::BadInput, format!("the token for {service} is not a valid HTTP header value"))
                })?;
                // Keeps the token out of reqwest's and hyper's debug output.
                value.set_sensitive(true);
                builder = builder.header(AUTHORIZATION, value);
            }
            match builder.send().await {
                Ok(response) => {
                    let status = response.status();
                    if !(RetryPolicy::is_retryable_status(status) && attempt < self.retry.retries) {
                        return Self::read_body_capped(service, response, max_body).await;
                    }
                    crate::report::debug(&format!("{service} answered {status}, retrying"));
                }
                Err(e) => {
                    let transient = e.is_connect() || e.is_timeout() || e.is_request();
                    if !(transient && attempt < self.retry.retries) {
                        return Err(fail_with_hint(
                            ExitKind::Remote,
                            format!("cannot reach {service} at {}: {}", redact_url(request.url), describe(e)),
                            "check the URL and the network, then run the command again",
                        ));
                    }
                    crate::report::debug(&format!("{service} request failed, retrying"));
                }
            }
            tokio::time::sleep(self.retry.delay(attempt)).await;
            attempt += 1;
        }
    }

    /// Reads a body of at most `max_body` bytes (a tarball has its own cap, larger than
    /// [`MAX_BODY_BYTES`]).
    async fn read_body_capped(service: &str, mut response: reqwest::Response, max_body: usize) -> anyhow::Result<Response> {
        let status = response.status();
        let headers = response.headers().clone();
        let too_big = || fail(ExitKind::Remote, format!("{service} response is larger than {max_body} bytes"));
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
                Err(e) => return Err(fail(ExitKind::Remote, format!("reading the {service} response failed: {}", describe(e)))),
            }
        }
        Ok(Response { status, headers, body })
    }
}

/// Reads the body, refusing one larger than [`MAX_BODY_BYTES`].
async fn read_body(service: &str, mut response: reqwest::Response) -> anyhow::Result<Response> {
    let status = response.status();
    let headers = response.headers().clone();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_large(service));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large(service));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(fail(
                    ExitKind::Remote,
                    format!("reading the {service} response failed: {}", describe(e)),
                ))
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn too_large(service: &str) -> anyhow::Error {
    fail(
        ExitKind::Remote,
        format!(
            "{service} response is larger than {} MiB",
            MAX_BODY_BYTES / (1024 * 1024)
        ),
    )
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
            response
                .status
                .canonical_reason()
                .unwrap_or("no message")
                .to_owned()
        } else {
            short
        }
    });
    fail(
        ExitKind::Remote,
        format!(
            "{service} answered {}: {}",
            response.status.as_u16(),
            message.replace('\n', " ")
        ),
    )
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
        assert_eq!(
            err.to_string(),
            "Fulcio answered 401: error processing the identity token"
        );
        let empty = Response {
            status: StatusCode::BAD_GATEWAY,
            headers: HeaderMap::new(),
            body: Vec::new(),
        };
        assert_eq!(
            status_error("Rekor", &empty).to_string(),
            "Rekor answered 502: Bad Gateway"
        );
    }

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            redact_url("https://runner.example/token?api-version=2.0&audience=sigstore"),
            "https://runner.example/token"
        );
        assert_eq!(
            join("http://127.0.0.1:9/", "/api/v1/log/entries"),
            "http://127.0.0.1:9/api/v1/log/entries"
        );
    }

    #[test]
    fn retry_policy_backs_off_and_picks_statuses() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0), Duration::from_millis(500));
        assert_eq!(p.delay(1), Duration::from_millis(1000));
        assert!(RetryPolicy::is_retryable_status(
            StatusCode::SERVICE_UNAVAILABLE
        ));
        assert!(RetryPolicy::is_retryable_status(
            StatusCode::TOO_MANY_REQUESTS
        ));
        assert!(!RetryPolicy::is_retryable_status(StatusCode::CONFLICT));
        assert!(!RetryPolicy::is_retryable_status(StatusCode::UNAUTHORIZED));
    }
}
