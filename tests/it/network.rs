//! Real networks: a private CA in front of the loopback Sigstore stand-in and npm registry (as a
//! TLS-inspecting proxy or GitHub Enterprise Server would be), given by each supported setting;
//! a CONNECT proxy the requests must go through; and failures that are deterministic (an
//! untrusted certificate, nothing listening) reported at once, with one hint naming the fix.

use std::io::{BufRead as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::interop::ServeSigstore;
use crate::support::{data, run_in, stderr, stdout};

/// A private CA and a leaf for 127.0.0.1 and localhost, as PEM.
struct PrivateCa {
    ca_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

fn private_ca() -> PrivateCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "npm-attest test corporate CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    PrivateCa { ca_pem: ca_cert.pem(), leaf_pem: leaf_cert.pem(), leaf_key_pem: leaf_key.serialize_pem() }
}

/// A TLS front on 127.0.0.1 with the private CA's leaf, forwarding each connection to the plain
/// HTTP server at `backend` (the way a TLS-terminating proxy sits before a service).
struct TlsFront {
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl TlsFront {
    fn start(ca: &PrivateCa, backend: u16) -> TlsFront {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = vec![CertificateDer::from_pem_slice(ca.leaf_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(ca.leaf_key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that does not trust us hangs up during the handshake: not an error here.
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        TlsFront { port, _runtime: runtime }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

/// A CONNECT proxy on 127.0.0.1 that records each tunnel's target.
struct ConnectProxy {
    port: u16,
    tunnels: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = tunnels.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let seen = seen.clone();
                std::thread::spawn(move || tunnel(client, &seen));
            }
        });
        ConnectProxy { port, tunnels }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

fn tunnel(client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut reader = std::io::BufReader::new(client.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    let mut writer = client;
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = writer.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    seen.lock().unwrap().push(target.to_owned());
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        return;
    };
    let _ = writer.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n");
    let mut up_read = upstream.try_clone().unwrap();
    let mut up_write = upstream;
    let down = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_read, &mut writer);
    });
    // Anything the client sent after the request head is in the reader's buffer.
    let _ = std::io::copy(&mut reader, &mut up_write);
    let _ = up_write.shutdown(std::net::Shutdown::Write);
    let _ = down.join();
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

/// A work directory with a tarball to attest and the CA written to `corp-ca.pem`.
fn work(ca: &PrivateCa) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("npm-provenance/tarballs/sigstore-1.0.0.tgz"), dir.path().join("sigstore-1.0.0.tgz")).unwrap();
    let ca_path = dir.path().join("corp-ca.pem");
    std::fs::write(&ca_path, &ca.ca_pem).unwrap();
    (dir, ca_path)
}

fn attest(dir: &Path, sigstore: &str, token: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut env = env.to_vec();
    // Keep the machine's own proxy settings out of the tests unless a test sets them.
    env.push(("HOME", dir.to_str().unwrap()));
    run_in(
        dir,
        &["attest", "sigstore-1.0.0.tgz", "--sigstore", sigstore, "--identity-token", token.trim(), "--json"],
        &env,
    )
}

#[test]
fn a_private_ca_is_trusted_from_each_supported_setting() {
    let ca = private_ca();
    let server = ServeSigstore::start();
    let front = TlsFront::start(&ca, port_of(server.base_url()));
    let token = server.token();
    let (dir, ca_path) = work(&ca);
    let ca_file = ca_path.to_str().unwrap();
    let inline = ca.ca_pem.trim().replace('\n', "\\n");
    /// (the setting, its variables, its `.npmrc`)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<String>);
    let cases: Vec<Case> = vec![
        ("NODE_EXTRA_CA_CERTS", vec![("NODE_EXTRA_CA_CERTS", ca_file)], None),
        ("SSL_CERT_FILE", vec![("SSL_CERT_FILE", ca_file)], None),
        ("npm_config_cafile", vec![("npm_config_cafile", ca_file)], None),
        (".npmrc cafile", vec![], Some(format!("cafile={ca_file}\n"))),
        (".npmrc ca", vec![], Some(format!("ca=\"{inline}\"\n"))),
        (".npmrc ca[]", vec![], Some(format!("ca[]=\"{inline}\"\n"))),
    ];
    for (name, env, npmrc) in cases {
        let rc = dir.path().join(".npmrc");
        match &npmrc {
            Some(text) => std::fs::write(&rc, text).unwrap(),
            None => {
                let _ = std::fs::remove_file(&rc);
            }
        }
        let out = attest(dir.path(), &front.url(), &token, &env);
        assert!(out.status.success(), "with the CA from {name}: {}", stderr(&out));
        assert!(stdout(&out).contains("\"logIndex\""), "{name}: {}", stdout(&out));
    }
}

#[test]
fn an_untrusted_certificate_fails_at_once_with_one_hint_naming_the_settings() {
    let ca = private_ca();
    let server = ServeSigstore::start();
    let front = TlsFront::start(&ca, port_of(server.base_url()));
    let (dir, _) = work(&ca);
    let started = Instant::now();
    let out = attest(dir.path(), &front.url(), &server.token(), &[]);
    let took = started.elapsed();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
    assert!(!err.contains("retrying"), "a certificate error is not retried: {err}");
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(err.contains("NODE_EXTRA_CA_CERTS=PATH, SSL_CERT_FILE=PATH or cafile=PATH in .npmrc"), "{err}");
    assert!(!err.contains("status.sigstore.dev"), "{err}");
    assert_eq!(err.matches("hint:").count(), 1, "{err}");
    assert_eq!(out.status.code(), Some(3), "the environment's trust is at fault: {err}");

    // A CA file that cannot be read is named before anything is sent.
    let out = attest(dir.path(), &front.url(), &server.token(), &[("NODE_EXTRA_CA_CERTS", "/nonexistent/corp.pem")]);
    assert!(stderr(&out).contains("cannot read /nonexistent/corp.pem (from NODE_EXTRA_CA_CERTS)"), "{}", stderr(&out));
}

#[test]
fn requests_go_through_the_connect_proxy_unless_the_host_is_excluded() {
    let ca = private_ca();
    let server = ServeSigstore::start();
    let front = TlsFront::start(&ca, port_of(server.base_url()));
    let token = server.token();
    let (dir, ca_path) = work(&ca);
    let ca_file = ca_path.to_str().unwrap();
    let target = format!("127.0.0.1:{}", front.port);

    let proxy = ConnectProxy::start();
    let out =
        attest(dir.path(), &front.url(), &token, &[("NODE_EXTRA_CA_CERTS", ca_file), ("HTTPS_PROXY", &proxy.url())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty() && tunnels.iter().all(|t| *t == target), "{tunnels:?}");

    let proxy = ConnectProxy::start();
    let out = attest(
        dir.path(),
        &front.url(),
        &token,
        &[("NODE_EXTRA_CA_CERTS", ca_file), ("https_proxy", &proxy.url()), ("NO_PROXY", "127.0.0.1")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(proxy.tunnels().is_empty(), "NO_PROXY is honoured: {:?}", proxy.tunnels());

    // npm's own setting wins over the environment.
    let npm_proxy = ConnectProxy::start();
    let env_proxy = ConnectProxy::start();
    std::fs::write(dir.path().join(".npmrc"), format!("https-proxy={}\ncafile={ca_file}\n", npm_proxy.url())).unwrap();
    let out = attest(dir.path(), &front.url(), &token, &[("HTTPS_PROXY", &env_proxy.url())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!npm_proxy.tunnels().is_empty() && env_proxy.tunnels().is_empty());
    std::fs::remove_file(dir.path().join(".npmrc")).unwrap();

    // A proxy that is not running is named in the hint.
    let dead = format!("http://127.0.0.1:{}", crate::interop::free_port());
    let out = attest(dir.path(), &front.url(), &token, &[("NODE_EXTRA_CA_CERTS", ca_file), ("HTTPS_PROXY", &dead)]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains(&format!("through the proxy {dead} (from HTTPS_PROXY)")), "{err}");
}

#[test]
fn an_https_registry_behind_the_private_ca_answers_through_the_proxy() {
    let ca = private_ca();
    let registry = crate::registry::RegistryStandin::start(Default::default());
    let front = TlsFront::start(&ca, port_of(&registry.server.url));
    let (dir, ca_path) = work(&ca);
    let proxy = ConnectProxy::start();
    let home = dir.path().to_str().unwrap().to_owned();
    let args = ["publish", "--dry-run", "--registry", &front.url(), "sigstore-1.0.0.tgz"];
    let out = run_in(
        dir.path(),
        &args,
        &[("HOME", &home), ("NODE_EXTRA_CA_CERTS", ca_path.to_str().unwrap()), ("HTTPS_PROXY", &proxy.url())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(proxy.tunnels(), vec![format!("127.0.0.1:{}", front.port)]);

    let out = run_in(dir.path(), &args, &[("HOME", &home)]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("NODE_EXTRA_CA_CERTS=PATH"), "{err}");
    assert!(!err.contains("retrying") && !err.contains("sigstore.dev"), "{err}");
}

#[test]
fn a_refused_connection_is_retried_briefly_on_stderr_and_blames_the_local_address() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("npm-provenance/tarballs/sigstore-1.0.0.tgz"), dir.path().join("sigstore-1.0.0.tgz")).unwrap();
    // A well-formed token from a stand-in; the URL given is one where nothing listens.
    let token = ServeSigstore::start().token();
    let base = format!("http://127.0.0.1:{}", crate::interop::free_port());
    let started = Instant::now();
    let out = attest(dir.path(), &base, &token, &[]);
    let took = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(took < Duration::from_secs(8), "took {took:?}: {err}");
    assert_eq!(err.matches("(connection refused)").count(), 2, "two short retries, each said: {err}");
    assert!(err.contains("retrying Fulcio in 0."), "{err}");
    assert!(err.contains(&format!("nothing is listening at {base}: start Fulcio or fix its URL")), "{err}");
    assert!(!err.contains("status.sigstore.dev"), "{err}");
    assert_eq!(err.matches("hint:").count(), 1, "{err}");
}

#[test]
fn every_retry_is_one_line_on_stderr_without_verbose() {
    let server = ServeSigstore::start_with(&["--fail-first", "2", "--fail-status", "503"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("npm-provenance/tarballs/sigstore-1.0.0.tgz"), dir.path().join("sigstore-1.0.0.tgz")).unwrap();
    let out = attest(dir.path(), server.base_url(), &server.token(), &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> =
        err.lines().filter_map(|l| l.strip_prefix("warning: ")).filter(|l| l.starts_with("retrying ")).collect();
    // The stand-in fails the first two requests of each endpoint.
    assert_eq!(lines.len(), 4, "{err}");
    for line in lines {
        assert!(line.starts_with("retrying Fulcio in ") || line.starts_with("retrying Rekor in "), "{line}");
        assert!(line.ends_with(" s (503)"), "{line}");
    }
}
