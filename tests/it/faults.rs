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
}

fn get(base: &str, path: &str) -> Wire {
    let authority = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Wire {
            status: 0,
            declared: None,
            received: raw.len(),
        };
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let declared = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    Wire {
        status,
        declared,
        received: raw.len() - split - 4,
    }
}

async fn start(faults: Faults) -> Standin {
    Standin::start_with_middleware(
        StandinOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
        },
        vec![faults.middleware()],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_requests_to_each_endpoint_fail_with_the_status_then_pass() {
    let standin = start(Faults {
        fail_first: 2,
        mode: FaultMode::Status(hyper::StatusCode::TOO_MANY_REQUESTS),
        ..Faults::default()
    })
    .await;
    let base = standin.base_url().to_owned();
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
    standin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_bodies_declare_the_full_length_and_stop_halfway() {
    let standin = start(Faults {
        mode: FaultMode::TruncateBody,
        ..Faults::default()
    })
    .await;
    let base = standin.base_url().to_owned();
    let wire = tokio::task::spawn_blocking(move || get(&base, "/api/v1/log"))
        .await
        .unwrap();
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
    assert_eq!(
        first,
        Wire {
            status: 0,
            declared: None,
            received: 0
        }
    );
    assert_eq!(second.status, 200);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    standin.shutdown().await;
}

/// The flags reach the stand-in: `serve-sigstore --fail-first 1 --fail-status 502`.
#[test]
fn serve_sigstore_flags_inject_faults() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(crate::support::bin())
        .args([
            "serve-sigstore",
            "--fail-first",
            "1",
            "--fail-status",
            "502",
            "--latency-ms",
            "10",
        ])
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let statuses = [
        get(&base, "/api/v1/log").status,
        get(&base, "/api/v1/log").status,
    ];
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(statuses, [502, 200]);

    let refused = crate::support::run_in(
        &std::env::temp_dir(),
        &["serve-sigstore", "--fail-rate", "1.5"],
        &[],
    );
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        crate::support::stderr(&refused)
    );
    let refused = crate::support::run_in(
        &std::env::temp_dir(),
        &["serve-sigstore", "--truncate-bodies", "--drop-connections"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
}
