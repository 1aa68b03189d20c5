//! Fault injection in the stand-in (`serve-sigstore --latency-ms/--fail-first/--fail-rate/
//! --truncate-bodies/--drop-connections`), observed on the wire.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use npm_attest::standin::{FaultMode, Faults, Standin, StandinOptions};

/// What came back on one connection: the status (0 when nothing came), the declared
/// `Content-Length`, and how many body bytes arrived before the connection closed.
#[derive(Debug, PartialEq, Eq)]
struct Wire {
    status: u16,
    declared: Option<usize>,
    received: usize,
    retry_after: Option<String>,
}

fn get(base: &str, path: &str) -> Wire {
    let authority = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Wire { status: 0, declared: None, received: raw.len(), retry_after: None };
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let declared = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
    let retry_after = head.lines().find_map(|l| l.strip_prefix("retry-after:")).map(|v| v.trim().to_owned());
    Wire { status, declared, received: raw.len() - split - 4, retry_after }
}

async fn start(faults: Faults) -> Standin {
    Standin::start_with_middleware(StandinOptions { listen: "127.0.0.1:0".parse().unwrap() }, vec![faults.middleware()])
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_requests_to_each_endpoint_fail_with_the_status_then_pass() {
    let standin = start(Faults {
        fail_first: 2,
        mode: FaultMode::Status(hyper::StatusCode::TOO_MANY_REQUESTS),
        retry_after: Some(7),
        ..Faults::default()
    })
    .await;
    let base = standin.base_url().to_owned();
    let probe = base.clone();
    let statuses = tokio::task::spawn_blocking(move || {
        [
            "/api/v1/log",
            "/api/v2/configuration",
            "/api/v1/log",
            "/api/v1/log",
            "/api/v2/configuration",
            "/api/v2/configuration",
        ]
        .map(|p| get(&base, p).status)
    })
    .await
    .unwrap();
    assert_eq!(statuses, [429, 429, 429, 200, 429, 200]);
    let wire = tokio::task::spawn_blocking(move || get(&probe, "/api/v2/trustBundle")).await.unwrap();
    assert_eq!((wire.status, wire.retry_after.as_deref()), (429, Some("7")));
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_bodies_declare_the_full_length_and_stop_halfway() {
    let standin = start(Faults { mode: FaultMode::TruncateBody, ..Faults::default() }).await;
    let base = standin.base_url().to_owned();
    let wire = tokio::task::spawn_blocking(move || get(&base, "/api/v1/log")).await.unwrap();
    assert_eq!(wire.status, 200);
    let declared = wire.declared.unwrap();
    assert!(declared > 100, "{wire:?}");
    assert_eq!(wire.received, declared / 2, "{wire:?}");
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_send_nothing_and_latency_delays_every_request() {
    let standin = start(Faults {
        fail_first: 1,
        mode: FaultMode::DropConnection,
        latency: Duration::from_millis(300),
        ..Faults::default()
    })
    .await;
    let base = standin.base_url().to_owned();
    let (first, second, took) = tokio::task::spawn_blocking(move || {
        let first = get(&base, "/api/v1/log/publicKey");
        let started = Instant::now();
        let second = get(&base, "/api/v1/log/publicKey");
        (first, second, started.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(first, Wire { status: 0, declared: None, received: 0, retry_after: None });
    assert_eq!(second.status, 200);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    standin.shutdown().await;
}

/// The flags reach the stand-in: `serve-sigstore --fail-first 1 --fail-status 502`.
#[test]
fn serve_sigstore_flags_inject_faults() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(crate::support::bin())
        .args(["serve-sigstore", "--fail-first", "1", "--fail-status", "502", "--latency-ms", "10"])
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let statuses = [get(&base, "/api/v1/log").status, get(&base, "/api/v1/log").status];
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(statuses, [502, 200]);

    let refused = crate::support::run_in(&std::env::temp_dir(), &["serve-sigstore", "--fail-rate", "1.5"], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", crate::support::stderr(&refused));
    let refused = crate::support::run_in(
        &std::env::temp_dir(),
        &["serve-sigstore", "--truncate-bodies", "--drop-connections"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// Recovery: `attest` against a stand-in that fails in each way.

use std::sync::{Arc, Mutex};

use npm_attest::standin::{ApiRequest, BoxFuture, Middleware, Next, Reply};

/// Records every request that reaches it and what the rest of the chain answered.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, String)>>,
}

impl Recorder {
    /// `(endpoint, outcome)`: outcome is the status, `dropped` or `truncated <status>`.
    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Middleware for Recorder {
    fn call<'a>(&'a self, request: ApiRequest, next: Next<'a>) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let endpoint = npm_attest::standin::faults::endpoint_key(&request);
            let reply = next.run(request).await;
            let outcome = match &reply {
                Reply::Response(r) => r.status().as_u16().to_string(),
                Reply::TruncateBody(r) => format!("truncated {}", r.status().as_u16()),
                Reply::DropConnection => "dropped".to_owned(),
            };
            self.seen.lock().unwrap().push((endpoint, outcome));
            reply
        })
    }
}

/// Applies `inner` only to requests whose endpoint is `endpoint`.
struct Only {
    endpoint: &'static str,
    inner: Arc<dyn Middleware>,
}

impl Middleware for Only {
    fn call<'a>(&'a self, request: ApiRequest, next: Next<'a>) -> BoxFuture<'a, Reply> {
        if npm_attest::standin::faults::endpoint_key(&request) == self.endpoint {
            self.inner.call(request, next)
        } else {
            Box::pin(next.run(request))
        }
    }
}

const FULCIO: &str = "POST /api/v2/signingCert";
const REKOR: &str = "POST /api/v1/log/entries";

struct Attested {
    output: std::process::Output,
    dir: tempfile::TempDir,
    seen: Vec<(String, String)>,
    elapsed: Duration,
}

impl Attested {
    fn bundle(&self) -> std::path::PathBuf {
        self.dir.path().join("tuf-js-1.0.0.sigstore.json")
    }

    fn stderr(&self) -> String {
        crate::support::stderr(&self.output)
    }
}

/// Runs `attest` (verbose) against an in-process stand-in with `layers` after a recorder,
/// and checks a written bundle with `verify` against the stand-in's trusted root.
async fn attest_through(layers: Vec<Arc<dyn Middleware>>, env: &[(&str, &str)]) -> Attested {
    let recorder = Arc::new(Recorder::default());
    let mut chain: Vec<Arc<dyn Middleware>> = vec![recorder.clone()];
    chain.extend(layers);
    let standin =
        Standin::start_with_middleware(StandinOptions { listen: "127.0.0.1:0".parse().unwrap() }, chain).await.unwrap();
    let claims = npm_attest::standin::github_actions_claims(&|_| None, npm_attest::clock::now().unwrap());
    let token = standin.mint_token(claims);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::support::data("npm-provenance/tarballs/tuf-js-1.0.0.tgz"),
        dir.path().join("tuf-js-1.0.0.tgz"),
    )
    .unwrap();
    std::fs::write(dir.path().join("trusted_root.json"), serde_json::to_vec(standin.trusted_root()).unwrap()).unwrap();
    let base = standin.base_url().to_owned();
    let path = dir.path().to_owned();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let (output, elapsed) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let started = Instant::now();
        let output = crate::support::run_in(
            &path,
            &["attest", "tuf-js-1.0.0.tgz", "--sigstore", &base, "--verbose", "--identity-token", token.expose()],
            &env,
        );
        (output, started.elapsed())
    })
    .await
    .unwrap();
    let seen = recorder.seen();
    standin.shutdown().await;
    let attested = Attested { output, dir, seen, elapsed };
    if attested.output.status.success() {
        let verified = crate::support::run_in(
            attested.dir.path(),
            &[
                "verify",
                "--bundle",
                "tuf-js-1.0.0.sigstore.json",
                "--trusted-root",
                "trusted_root.json",
                "--certificate-identity-regexp",
                ".*",
                "--certificate-oidc-issuer",
                npm_attest::core::well_known::GITHUB_ACTIONS_ISSUER,
                "tuf-js-1.0.0.tgz",
            ],
            &[],
        );
        assert!(verified.status.success(), "{}", crate::support::stderr(&verified));
    }
    attested
}

fn first(n: u64, mode: FaultMode) -> Arc<dyn Middleware> {
    Faults { fail_first: n, mode, ..Faults::default() }.middleware()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attest_recovers_from_each_transient_fault() {
    use hyper::StatusCode;
    let cases: Vec<(&str, Arc<dyn Middleware>)> = vec![
        ("503 twice", first(2, FaultMode::Status(StatusCode::SERVICE_UNAVAILABLE))),
        ("502", first(1, FaultMode::Status(StatusCode::BAD_GATEWAY))),
        ("504", first(1, FaultMode::Status(StatusCode::GATEWAY_TIMEOUT))),
        ("500", first(1, FaultMode::Status(StatusCode::INTERNAL_SERVER_ERROR))),
        ("408", first(1, FaultMode::Status(StatusCode::REQUEST_TIMEOUT))),
        ("429", first(1, FaultMode::Status(StatusCode::TOO_MANY_REQUESTS))),
        ("dropped connection", first(1, FaultMode::DropConnection)),
        ("truncated body", first(1, FaultMode::TruncateBody)),
        ("random 503s", Faults { fail_rate: 0.3, seed: 11, ..Faults::default() }.middleware()),
    ];
    for (name, layer) in cases {
        let attested = attest_through(vec![layer], &[]).await;
        assert!(attested.output.status.success(), "{name}: {}", attested.stderr());
        assert!(attested.bundle().exists(), "{name}");
        // The fault did happen to Fulcio and to Rekor, and each was asked again.
        if name != "random 503s" {
            assert!(attested.count(FULCIO) >= 2 && attested.count(REKOR) >= 2, "{name}: {:?}", attested.seen);
        }
    }
}

impl Attested {
    fn count(&self, endpoint: &str) -> usize {
        self.seen.iter().filter(|(e, _)| e == endpoint).count()
    }
}

/// A truncated Rekor answer after the entry was logged: the retry gets 409 and the client
/// completes the bundle from the existing entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_rekor_answer_is_recovered_through_the_conflict() {
    let attested =
        attest_through(vec![Arc::new(Only { endpoint: REKOR, inner: first(1, FaultMode::TruncateBody) })], &[]).await;
    assert!(attested.output.status.success(), "{}", attested.stderr());
    let rekor: Vec<&str> = attested.seen.iter().filter(|(e, _)| e == REKOR).map(|(_, o)| o.as_str()).collect();
    assert_eq!(rekor, ["truncated 201", "409"]);
    assert!(attested.count("GET /api/v1/log/entries/{id}") >= 1, "{:?}", attested.seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_not_retried_and_nothing_is_written() {
    let attested = attest_through(vec![first(u64::MAX, FaultMode::Status(hyper::StatusCode::BAD_REQUEST))], &[]).await;
    assert_eq!(attested.output.status.code(), Some(4), "{}", attested.stderr());
    assert_eq!(attested.count(FULCIO), 1, "{:?}", attested.seen);
    assert_eq!(attested.count(REKOR), 0);
    assert!(attested.stderr().contains("Fulcio answered 400"), "{}", attested.stderr());
    assert!(!attested.bundle().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fulcio_outage_ends_at_the_deadline_naming_the_service_and_status() {
    let attested = attest_through(
        vec![first(u64::MAX, FaultMode::Status(hyper::StatusCode::SERVICE_UNAVAILABLE))],
        &[("NPM_ATTEST_RETRY_DEADLINE_SECS", "3")],
    )
    .await;
    assert_eq!(attested.output.status.code(), Some(4), "{}", attested.stderr());
    let line = attested.stderr().lines().last().unwrap_or_default().to_owned();
    assert!(line.contains("Fulcio") && line.contains("503"), "{line}");
    assert!(attested.count(FULCIO) >= 2, "retried: {:?}", attested.seen);
    assert_eq!(attested.count(REKOR), 0, "nothing is logged without a certificate");
    assert!(!attested.bundle().exists());
    assert!(attested.elapsed < Duration::from_secs(15), "{:?}", attested.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekor_outage_leaves_no_bundle() {
    let attested = attest_through(
        vec![Arc::new(Only { endpoint: REKOR, inner: first(u64::MAX, FaultMode::DropConnection) })],
        &[("NPM_ATTEST_RETRY_DEADLINE_SECS", "3")],
    )
    .await;
    assert_eq!(attested.output.status.code(), Some(4), "{}", attested.stderr());
    let line = attested.stderr().lines().last().unwrap_or_default().to_owned();
    assert!(line.contains("Rekor"), "{line}");
    assert!(attested.count(REKOR) >= 2, "retried: {:?}", attested.seen);
    let mut files: Vec<String> = std::fs::read_dir(attested.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["trusted_root.json", "tuf-js-1.0.0.tgz"], "no bundle, no temporary file");
}
