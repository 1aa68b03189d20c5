//! Fault injection for the stand-in: added latency, failing the first N requests to each
//! endpoint, failing a reproducible random fraction of requests, truncated response bodies and
//! dropped connections. `serve-sigstore` builds a [`Faults`] from its flags; in-process tests
//! pass [`Faults::middleware`] to [`Standin::start_with_middleware`](super::Standin).
//!
//! Which requests fail is decided per endpoint (method and path, with a Rekor entry's UUID or
//! index folded into `{id}`): the first `fail_first` requests to each endpoint fail, and after
//! those each request fails with probability `fail_rate`, drawn from a SplitMix64 stream keyed
//! by the seed, the endpoint and the request's number at that endpoint. Requests to other
//! endpoints therefore never shift an endpoint's decisions, however they interleave.
//!
//! How a chosen request fails is the [`FaultMode`]: an error status (with the service's error
//! body), the real answer cut midway, or the connection closed without an answer. With
//! neither `fail_first` nor `fail_rate` set, a truncating or dropping mode applies to every
//! request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::standin::server::{ApiRequest, BoxFuture, Middleware, Next, Reply};

/// How a request chosen to fail fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Answer this status with a JSON error body, without reaching the routes.
    Status(StatusCode),
    /// Let the routes answer, then send the head with the full `Content-Length` and close the
    /// connection halfway through the body.
    TruncateBody,
    /// Close the connection without answering (the routes never see the request).
    DropConnection,
}

/// Fault-injection options (all off by default).
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Added before every request is handled.
    pub latency: Duration,
    /// The first this-many requests to each endpoint fail.
    pub fail_first: u64,
    /// The fraction (0.0 to 1.0) of the remaining requests that fail.
    pub fail_rate: f64,
    /// The seed of the random failures.
    pub seed: u64,
    /// How a failing request fails.
    pub mode: FaultMode,
    /// A `Retry-After` header (whole seconds) on injected 429 and 503 answers.
    pub retry_after: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            fail_first: 0,
            fail_rate: 0.0,
            seed: 0,
            mode: FaultMode::Status(StatusCode::SERVICE_UNAVAILABLE),
            retry_after: None,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Fail(FaultMode),
}

impl Faults {
    /// Whether any fault or latency is configured.
    pub fn is_active(&self) -> bool {
        !self.latency.is_zero() || self.fails_some() || self.mode_applies_to_all()
    }

    fn fails_some(&self) -> bool {
        self.fail_first > 0 || self.fail_rate > 0.0
    }

    fn mode_applies_to_all(&self) -> bool {
        !self.fails_some() && !matches!(self.mode, FaultMode::Status(_))
    }

    /// The decision for the `n`-th request (counting from 0) to `endpoint`.
    pub fn decide(&self, endpoint: &str, n: u64) -> Decision {
        if self.mode_applies_to_all() || n < self.fail_first {
            return Decision::Fail(self.mode);
        }
        if self.fail_rate > 0.0 {
            let draw = unit_interval(splitmix64(self.seed ^ fnv1a(endpoint) ^ splitmix64(n)));
            if draw < self.fail_rate {
                return Decision::Fail(self.mode);
            }
        }
        Decision::Pass
    }

    /// The middleware that applies these faults, counting requests per endpoint from zero.
    pub fn middleware(&self) -> Arc<dyn Middleware> {
        Arc::new(FaultLayer { faults: self.clone(), seen: Mutex::new(HashMap::new()) })
    }
}

/// `METHOD /path`, without the query, with a trailing `/` removed and the variable part of a
/// Rekor entry lookup folded into `{id}`.
pub fn endpoint_key(request: &ApiRequest) -> String {
    let path = request.path.split('?').next().unwrap_or_default().trim_end_matches('/');
    let path = match path.strip_prefix("/api/v1/log/entries/") {
        Some(rest) if !rest.is_empty() => "/api/v1/log/entries/{id}",
        _ => path,
    };
    format!("{} {path}", request.method)
}

/// SplitMix64's output function (Steele, Lea and Flood 2014): a bijective mix of a 64-bit
/// state with good avalanche, enough for reproducible fault decisions.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A float in [0, 1) from the top 53 bits.
fn unit_interval(x: u64) -> f64 {
    // 2^53 fits a f64 mantissa exactly, so the conversion is exact.
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a over the endpoint name, to key the random stream by endpoint.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

struct FaultLayer {
    faults: Faults,
    seen: Mutex<HashMap<String, u64>>,
}

impl FaultLayer {
    /// The request's number at its endpoint (0 for the first).
    fn count(&self, endpoint: &str) -> u64 {
        // A poisoned lock only means another request panicked while counting; the map is
        // still a map.
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = seen.entry(endpoint.to_owned()).or_insert(0);
        let this = *n;
        *n = n.saturating_add(1);
        this
    }
}

/// The error body of the service behind `path`: gRPC-gateway's for Fulcio, go-swagger's for
/// Rekor and everything else.
fn error_response(status: StatusCode, path: &str, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let message = format!("injected fault: {}", status.as_u16());
    let body = if path.starts_with("/api/v2/") {
        // gRPC UNAVAILABLE for any injected fault.
        json!({"code": 14, "message": message, "details": []})
    } else {
        json!({"code": status.as_u16(), "message": message})
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) =
        retry_after.filter(|_| status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE)
    {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

impl Middleware for FaultLayer {
    fn call<'a>(&'a self, request: ApiRequest, next: Next<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            if !self.faults.latency.is_zero() {
                tokio::time::sleep(self.faults.latency).await;
            }
            let endpoint = endpoint_key(&request);
            let n = self.count(&endpoint);
            match self.faults.decide(&endpoint, n) {
                Decision::Pass => next.run(request).await,
                Decision::Fail(FaultMode::Status(status)) => {
                    Reply::Response(error_response(status, &request.path, self.faults.retry_after))
                }
                Decision::Fail(FaultMode::DropConnection) => Reply::DropConnection,
                Decision::Fail(FaultMode::TruncateBody) => match next.run(request).await {
                    Reply::Response(response) => Reply::TruncateBody(response),
                    other => other,
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> ApiRequest {
        ApiRequest {
            method: hyper::Method::GET,
            path: path.to_owned(),
            headers: hyper::HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    #[test]
    fn splitmix64_matches_the_reference_stream() {
        // The reference generator advances its state by the golden gamma and mixes it; with
        // seed 0 the first outputs are these (from the published C implementation).
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(0x9e37_79b9_7f4a_7c15), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn the_first_n_requests_fail_at_each_endpoint_separately() {
        let faults = Faults { fail_first: 2, mode: FaultMode::Status(StatusCode::BAD_GATEWAY), ..Faults::default() };
        let layer = FaultLayer { faults: faults.clone(), seen: Mutex::new(HashMap::new()) };
        let mut outcomes = Vec::new();
        for path in [
            "/api/v2/signingCert",
            "/api/v1/log/entries",
            "/api/v2/signingCert",
            "/api/v2/signingCert?x=1",
            "/api/v1/log/entries/",
            "/api/v1/log/entries",
        ] {
            let endpoint = endpoint_key(&get(path));
            outcomes.push(faults.decide(&endpoint, layer.count(&endpoint)));
        }
        let fail = Decision::Fail(FaultMode::Status(StatusCode::BAD_GATEWAY));
        assert_eq!(outcomes, [fail, fail, fail, Decision::Pass, fail, Decision::Pass]);
    }

    #[test]
    fn entry_lookups_share_one_endpoint() {
        assert_eq!(
            endpoint_key(&get("/api/v1/log/entries/24296fb24b8ad77a")),
            endpoint_key(&get("/api/v1/log/entries/1?x")),
        );
        assert_eq!(endpoint_key(&get("/api/v1/log/")), "GET /api/v1/log");
        assert_ne!(endpoint_key(&get("/api/v1/log/entries")), endpoint_key(&get("/api/v1/log/entries/1")));
    }

    #[test]
    fn random_failures_are_reproducible_for_a_seed_and_near_the_rate() {
        let faults = |seed| Faults { fail_rate: 0.3, seed, ..Faults::default() };
        let run = |f: &Faults, endpoint: &str| -> Vec<bool> {
            (0..2000).map(|n| f.decide(endpoint, n) != Decision::Pass).collect()
        };
        let a = run(&faults(7), "POST /api/v2/signingCert");
        assert_eq!(a, run(&faults(7), "POST /api/v2/signingCert"));
        assert_ne!(a, run(&faults(8), "POST /api/v2/signingCert"));
        assert_ne!(a, run(&faults(7), "POST /api/v1/log/entries"));
        let failed = a.iter().filter(|f| **f).count();
        assert!((500..700).contains(&failed), "{failed} of 2000 failed at rate 0.3");
        // Rate 0 never fails; rate 1 always does.
        let never = Faults { fail_rate: 0.0, ..faults(7) };
        let always = Faults { fail_rate: 1.0, ..faults(7) };
        assert!((0..500).all(|n| never.decide("GET /", n) == Decision::Pass));
        assert!((0..500).all(|n| always.decide("GET /", n) != Decision::Pass));
    }

    #[test]
    fn truncating_or_dropping_alone_applies_to_every_request() {
        let drop_all = Faults { mode: FaultMode::DropConnection, ..Faults::default() };
        assert!(drop_all.is_active());
        assert!((0..10).all(|n| drop_all.decide("GET /", n) == Decision::Fail(FaultMode::DropConnection)));
        let first_only = Faults { fail_first: 1, mode: FaultMode::TruncateBody, ..Faults::default() };
        assert_eq!(first_only.decide("GET /", 0), Decision::Fail(FaultMode::TruncateBody));
        assert_eq!(first_only.decide("GET /", 1), Decision::Pass);
        assert!(!Faults::default().is_active());
        assert_eq!(Faults::default().decide("GET /", 0), Decision::Pass);
    }
}
