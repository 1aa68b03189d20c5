//! The stand-in's HTTP/1.1 server (hyper) and its routes.
//!
//! Every request is read whole (bounded by [`MAX_BODY_BYTES`], 413 beyond) into an
//! [`ApiRequest`] and passed through a chain of [`Middleware`] before the routes see it. The
//! chain is the seam for fault injection (latency, failing the first N requests, random
//! failures, truncated bodies, dropped connections): a middleware may answer on its own,
//! delay, rewrite the response, or return [`Reply::DropConnection`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::core::crypto::pem_encode;
use crate::core::time::UnixTime;
use crate::standin::ca::{CertificateAuthority, LeafRequest};
use crate::standin::ct::CtLog;
use crate::standin::fulcio;
use crate::standin::issuer::Issuer;
use crate::standin::log::{canonicalize, Appended, Log};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request read whole.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the chain answers.
#[derive(Debug)]
pub enum Reply {
    Response(Response<Full<Bytes>>),
    /// Close the connection without answering.
    DropConnection,
    /// Send the head with the full `Content-Length`, then half the body, then close the
    /// connection (a response cut midway).
    TruncateBody(Response<Full<Bytes>>),
}

/// One link of the request chain. Call `next.run(request)` to continue to the routes.
pub trait Middleware: Send + Sync + 'static {
    fn call<'a>(&'a self, request: ApiRequest, next: Next<'a>) -> BoxFuture<'a, Reply>;
}

/// The rest of the chain after a middleware.
pub struct Next<'a> {
    layers: &'a [Arc<dyn Middleware>],
    app: &'a App,
}

impl<'a> Next<'a> {
    pub async fn run(self, request: ApiRequest) -> Reply {
        match self.layers.split_first() {
            Some((layer, rest)) => layer.call(request, Next { layers: rest, app: self.app }).await,
            None => Reply::Response(self.app.route(&request)),
        }
    }
}

/// Everything the routes need.
pub(crate) struct App {
    pub(crate) base_url: String,
    pub(crate) ca: CertificateAuthority,
    pub(crate) ct: CtLog,
    pub(crate) issuer: Issuer,
    pub(crate) log: Mutex<Log>,
    /// The Rekor v2 log under [`crate::standin::rekor_v2::PATH_PREFIX`].
    pub(crate) log_v2: Mutex<crate::standin::rekor_v2::LogV2>,
    pub(crate) tsa: crate::standin::tsa::TimestampAuthority,
    pub(crate) clock: fn() -> (UnixTime, u128),
    /// 20 random bytes for a serial number, or `None` when the random source fails.
    pub(crate) random: fn() -> Option<[u8; 20]>,
    /// A test and demo knob: issue leaves whose validity ended before they are issued
    /// (see [`crate::standin::Standin::issue_expired_certificates`]).
    pub(crate) expired_certificates: std::sync::atomic::AtomicBool,
    /// The TUF repository serving the trusted root and signing config under `/tuf/`.
    pub(crate) tuf: Mutex<crate::standin::tuf::Repository>,
    /// In the form of GitHub's instance: leaves without SCTs, and no transparency log (its
    /// routes answer 404, so nothing can be logged).
    pub(crate) github_instance: bool,
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// gRPC-gateway's error body, as Fulcio sends it: `{"code": <grpc code>, "message", "details"}`.
fn fulcio_error(status: StatusCode, grpc_code: u32, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({"code": grpc_code, "message": message, "details": []}))
}

/// gRPC-gateway's error body, as rekor-tiles sends it.
fn grpc_error(status: StatusCode, grpc_code: u32, message: &str) -> Response<Full<Bytes>> {
    fulcio_error(status, grpc_code, message)
}

/// go-swagger's error body, as Rekor sends it: `{"code": <http status>, "message"}`.
fn rekor_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({"code": status.as_u16(), "message": message}))
}

impl App {
    fn tuf_file(&self, path: &str) -> Response<Full<Bytes>> {
        let bytes = match self.tuf.lock() {
            Ok(repo) => repo.file(path).map(<[u8]>::to_vec),
            Err(_) => return rekor_error(StatusCode::INTERNAL_SERVER_ERROR, "TUF repository state is unavailable"),
        };
        match bytes {
            Some(bytes) => {
                let mut response = Response::new(Full::new(Bytes::from(bytes)));
                response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            None => rekor_error(StatusCode::NOT_FOUND, "path not found"),
        }
    }

    fn route(&self, request: &ApiRequest) -> Response<Full<Bytes>> {
        let path = request.path.split('?').next().unwrap_or_default().trim_end_matches('/');
        if self.github_instance && (path.starts_with("/api/v1/log") || path.starts_with("/rekor-v2")) {
            return rekor_error(StatusCode::NOT_FOUND, "this instance keeps no transparency log");
        }
        match (&request.method, path) {
            (&Method::POST, "/api/v2/signingCert") => self.signing_cert(request),
            (&Method::GET, "/api/v2/trustBundle") => {
                json_response(StatusCode::OK, &json!({"chains": [{"certificates": self.ca.chain_pem()}]}))
            }
            (&Method::GET, "/api/v2/configuration") => json_response(
                StatusCode::OK,
                &json!({"issuers": [
                    {"issuerUrl": crate::core::well_known::GITHUB_ACTIONS_ISSUER, "audience": "sigstore", "challengeClaim": "sub"},
                    {"issuerUrl": crate::core::well_known::GITLAB_ISSUER, "audience": "sigstore", "challengeClaim": "sub"},
                ]}),
            ),
            (&Method::POST, "/api/v1/log/entries") => self.create_entry(request),
            (&Method::GET, "/api/v1/log") => {
                let (_, ns) = (self.clock)();
                match self.log.lock() {
                    Ok(log) => json_response(StatusCode::OK, &log.log_info(ns)),
                    Err(_) => rekor_error(StatusCode::INTERNAL_SERVER_ERROR, "log state is unavailable"),
                }
            }
            (&Method::GET, "/api/v1/log/publicKey") => match self.log.lock() {
                Ok(log) => {
                    let mut response = Response::new(Full::new(Bytes::from(pem_encode("PUBLIC KEY", log.spki_der()))));
                    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-pem-file"));
                    response
                }
                Err(_) => rekor_error(StatusCode::INTERNAL_SERVER_ERROR, "log state is unavailable"),
            },
            (&Method::POST, "/api/v1/timestamp") => self.timestamp(request),
            (&Method::GET, "/api/v1/timestamp/certchain") => {
                let mut response = Response::new(Full::new(Bytes::from(self.tsa.chain_pem())));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/pem-certificate-chain"));
                response
            }
            (&Method::POST, "/rekor-v2/api/v2/log/entries") => self.create_entry_v2(request),
            (&Method::GET, "/rekor-v2/api/v2/checkpoint") => match self.log_v2.lock() {
                Ok(log) => {
                    let mut response = Response::new(Full::new(Bytes::from(log.checkpoint())));
                    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
                    response
                }
                Err(_) => grpc_error(StatusCode::INTERNAL_SERVER_ERROR, 13, "log state is unavailable"),
            },
            (&Method::GET, p) if p.starts_with("/tuf/") => self.tuf_file(p.trim_start_matches("/tuf/")),
            (&Method::GET, p) if p.starts_with("/api/v1/log/entries/") => {
                self.get_entry(p.trim_start_matches("/api/v1/log/entries/"))
            }
            _ => rekor_error(StatusCode::NOT_FOUND, "path not found"),
        }
    }

    fn signing_cert(&self, request: &ApiRequest) -> Response<Full<Bytes>> {
        const INVALID_ARGUMENT: u32 = 3;
        const INTERNAL: u32 = 13;
        let bad = |message: &str| fulcio_error(StatusCode::BAD_REQUEST, INVALID_ARGUMENT, message);
        let bearer = request
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let parsed = match fulcio::parse_request(&request.body, bearer) {
            Ok(p) => p,
            Err(message) => return bad(message),
        };
        let (now, _) = (self.clock)();
        // Fulcio authenticates the token first, then checks the key and its proof.
        let principal = match self.issuer.authenticate(&parsed.token, now) {
            Ok(p) => p,
            Err(_) => return bad(fulcio::INVALID_IDENTITY_TOKEN),
        };
        let key = match parsed.key {
            Ok(key) => key,
            Err(message) => return bad(message),
        };
        if let Err(message) = key.verify(&principal.challenge) {
            return bad(message);
        }
        let Some(serial) = (self.random)() else {
            return fulcio_error(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL, fulcio::GENERIC_CA_ERROR);
        };
        let not_before = if self.expired_certificates.load(std::sync::atomic::Ordering::Relaxed) {
            UnixTime(now.seconds() - crate::standin::ca::EXPIRED_LEAF_AGE_SECONDS)
        } else {
            now
        };
        let leaf = LeafRequest { spki_der: key.spki_der(), principal: &principal, now, not_before, serial };
        let ct = (!self.github_instance).then_some(&self.ct);
        match self.ca.issue(&leaf, ct) {
            Ok(der) => {
                let mut certificates = vec![pem_encode("CERTIFICATE", &der)];
                certificates.extend(self.ca.chain_pem());
                // The v2 gateway answers 200 (only the legacy v1 endpoint said 201).
                json_response(
                    StatusCode::OK,
                    &json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": certificates}}}),
                )
            }
            Err(_) => fulcio_error(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL, fulcio::GENERIC_CA_ERROR),
        }
    }

    fn entry_location(&self, uuid: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("{}/api/v1/log/entries/{uuid}", self.base_url))
            .unwrap_or_else(|_| HeaderValue::from_static("/api/v1/log/entries"))
    }

    fn create_entry(&self, request: &ApiRequest) -> Response<Full<Bytes>> {
        let proposed: Value = match serde_json::from_slice(&request.body) {
            Ok(v) => v,
            Err(e) => return rekor_error(StatusCode::BAD_REQUEST, &format!("proposed entry is not JSON: {e}")),
        };
        let body = match canonicalize(&proposed) {
            Ok(b) => b,
            Err(e) => return rekor_error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let (now, ns) = (self.clock)();
        let Ok(mut log) = self.log.lock() else {
            return rekor_error(StatusCode::INTERNAL_SERVER_ERROR, "log state is unavailable");
        };
        let (index, status) = match log.append(body, now.seconds()) {
            Appended::New(index) => (index, StatusCode::CREATED),
            Appended::Duplicate(index) => (index, StatusCode::CONFLICT),
        };
        let Some((uuid, entry)) = log.entry(index, ns) else {
            return rekor_error(StatusCode::INTERNAL_SERVER_ERROR, "entry vanished from the log");
        };
        drop(log);
        let mut response = if status == StatusCode::CONFLICT {
            rekor_error(status, &format!("an equivalent entry already exists in the transparency log with UUID {uuid}"))
        } else {
            let mut r = json_response(status, &json!({ uuid.clone(): entry }));
            if let Ok(etag) = HeaderValue::from_str(&uuid) {
                r.headers_mut().insert(ETAG, etag);
            }
            r
        };
        response.headers_mut().insert(LOCATION, self.entry_location(&uuid));
        response
    }

    /// RFC 3161 over HTTP (timestamp-authority's `POST /api/v1/timestamp`).
    fn timestamp(&self, request: &ApiRequest) -> Response<Full<Bytes>> {
        let text = |status: StatusCode, message: String| {
            let mut response = Response::new(Full::new(Bytes::from(message)));
            *response.status_mut() = status;
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            response
        };
        let (now, _) = (self.clock)();
        let Some(serial) = (self.random)() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "the random source failed".into());
        };
        match self.tsa.respond(&request.body, now, serial) {
            Ok(der) => {
                let mut response = Response::new(Full::new(Bytes::from(der)));
                response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/timestamp-reply"));
                response
            }
            Err(crate::standin::tsa::TimestampRequestError::Internal(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e),
            Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }

    /// Rekor v2's write API: 201 with the `TransparencyLogEntry`; 409 `AlreadyExists` for an
    /// entry already logged; 400 `InvalidArgument` for a request that does not verify.
    fn create_entry_v2(&self, request: &ApiRequest) -> Response<Full<Bytes>> {
        const INVALID_ARGUMENT: u32 = 3;
        const ALREADY_EXISTS: u32 = 6;
        let proposed: Value = match serde_json::from_slice(&request.body) {
            Ok(v) => v,
            Err(e) => {
                return grpc_error(StatusCode::BAD_REQUEST, INVALID_ARGUMENT, &format!("request is not JSON: {e}"))
            }
        };
        let Ok(mut log) = self.log_v2.lock() else {
            return grpc_error(StatusCode::INTERNAL_SERVER_ERROR, 13, "log state is unavailable");
        };
        match log.create(&proposed) {
            Ok(crate::standin::rekor_v2::Created::New(entry)) => match serde_json::to_value(entry.as_ref()) {
                Ok(value) => json_response(StatusCode::CREATED, &value),
                Err(e) => grpc_error(StatusCode::INTERNAL_SERVER_ERROR, 13, &e.to_string()),
            },
            Ok(crate::standin::rekor_v2::Created::Duplicate(index)) => grpc_error(
                StatusCode::CONFLICT,
                ALREADY_EXISTS,
                &format!("an equivalent entry already exists in the transparency log with index {index}"),
            ),
            Err(e) => grpc_error(StatusCode::BAD_REQUEST, INVALID_ARGUMENT, &e.to_string()),
        }
    }

    fn get_entry(&self, id: &str) -> Response<Full<Bytes>> {
        let (_, ns) = (self.clock)();
        let Ok(log) = self.log.lock() else {
            return rekor_error(StatusCode::INTERNAL_SERVER_ERROR, "log state is unavailable");
        };
        match log.find(id).and_then(|index| log.entry(index, ns)) {
            Some((uuid, entry)) => json_response(StatusCode::OK, &json!({ uuid: entry })),
            None => rekor_error(StatusCode::NOT_FOUND, "entry not found"),
        }
    }
}

/// Reads a request whole and runs it through the chain.
async fn serve_request(
    request: hyper::Request<hyper::body::Incoming>,
    app: Arc<App>,
    layers: Arc<Vec<Arc<dyn Middleware>>>,
) -> Result<Response<ServedBody>, std::io::Error> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                return Ok(ServedBody::whole(rekor_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body is larger than 32 MiB",
                )));
            }
            return Err(std::io::Error::other("request body could not be read"));
        }
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
    let api_request = ApiRequest { method: parts.method, path, headers: parts.headers, body };
    match (Next { layers: &layers, app: &app }).run(api_request).await {
        Reply::Response(response) => Ok(ServedBody::whole(response)),
        Reply::TruncateBody(response) => Ok(ServedBody::truncated(response)),
        // An error from the service makes hyper close the connection without an answer.
        Reply::DropConnection => Err(std::io::Error::other("connection dropped by middleware")),
    }
}

/// A response body as sent: whole, or cut midway ([`Reply::TruncateBody`]).
struct ServedBody {
    /// What is still to be sent.
    data: Option<Bytes>,
    /// The length the head declares.
    declared: u64,
    /// For a cut body: a pause after the part that is sent (so that hyper flushes it), then
    /// an error, which makes hyper close the connection.
    cut: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ServedBody {
    fn whole(response: Response<Full<Bytes>>) -> Response<Self> {
        response.map(|body| {
            // `Full` holds a single frame, so this never waits.
            let data = full_bytes(body);
            let declared = data.len() as u64;
            Self { data: Some(data).filter(|d| !d.is_empty()), declared, cut: None }
        })
    }

    fn truncated(response: Response<Full<Bytes>>) -> Response<Self> {
        response.map(|body| {
            let data = full_bytes(body);
            let declared = data.len() as u64;
            let sent = data.slice(..data.len() / 2);
            Self {
                data: Some(sent),
                declared,
                cut: Some(Box::pin(tokio::time::sleep(std::time::Duration::from_millis(50)))),
            }
        })
    }
}

/// The bytes of a `Full` body (one frame, available at once).
fn full_bytes(body: Full<Bytes>) -> Bytes {
    let mut body = std::pin::pin!(body);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match hyper::body::Body::poll_frame(body.as_mut(), &mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

impl hyper::body::Body for ServedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        use std::task::Poll;
        if let Some(data) = self.data.take() {
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(hyper::body::Frame::data(data))));
            }
        }
        match self.cut.as_mut() {
            Some(pause) => match pause.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    self.cut = None;
                    Poll::Ready(Some(Err(std::io::Error::other("response body truncated by fault injection"))))
                }
            },
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.cut.is_none()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.declared)
    }
}

/// Accepts connections until `shutdown` flips, then aborts the open ones.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    layers: Vec<Arc<dyn Middleware>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let layers = Arc::new(layers);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors or a reset during the handshake: pause rather
                    // than spin, then keep serving.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                };
                let app = app.clone();
                let layers = layers.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| serve_request(req, app.clone(), layers.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}
