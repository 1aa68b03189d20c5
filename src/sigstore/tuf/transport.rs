//! `sigstore_tuf::Repository` over npm-attest's one HTTP client (`crate::http`): metadata from
//! `<base>/<name>`, targets from `<base>/targets/<path>`, each read with the byte cap the
//! updater passes (TUF spec §5.3.1, §5.4.1, §5.5.1, §5.6.1, §5.7: every download is bounded).
//! No credentials are ever attached (gh's CVE-2026-48501 sent a token to TUF mirrors).

use reqwest::{Method, StatusCode};
use sigstore_tuf::transport::FetchFuture;
use sigstore_tuf::Error;

use crate::http::{Http, Request};

pub(super) struct HttpRepository {
    http: Http,
    metadata_base: String,
    targets_base: String,
}

impl HttpRepository {
    pub(super) fn new(http: Http, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self { http, metadata_base: base.to_owned(), targets_base: format!("{base}/targets") }
    }

    async fn get(&self, url: String, what: &str, max_length: u64) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        let request = Request { method: Method::GET, url: &url, headers: &[], bearer: None, body: None };
        // One byte more than allowed, so that "exactly the cap" and "more than the cap" differ.
        let cap = usize::try_from(max_length.saturating_add(1)).unwrap_or(usize::MAX);
        let response = match self.http.request("the TUF repository", request, cap).await {
            Ok(response) => response,
            Err(e) => {
                let text = format!("{e:#}");
                // http.rs refuses a body past the cap before reading it all.
                if text.contains("is larger than") {
                    return Err(endless_data(what, max_length));
                }
                return Err(Error::transport_with_source(format!("fetching {what}"), e));
            }
        };
        // §5.3.1: "not found" ends the root walk; python-tuf treats 403 like 404 (S3 mirrors).
        if response.status == StatusCode::NOT_FOUND || response.status == StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !response.status.is_success() {
            return Err(Error::transport(format!("fetching {what}: {url} answered {}", response.status.as_u16())));
        }
        if response.body.len() as u64 > max_length {
            return Err(endless_data(what, max_length));
        }
        Ok(Some(response.body))
    }
}

/// The endless-data attack (TUF spec §1.5.2): a file longer than its cap is refused, not
/// truncated, and it is not a network failure that a cached copy could paper over.
fn endless_data(what: &str, max_length: u64) -> Error {
    Error::IntegrityMismatch(format!("endless data: {what} is longer than its limit of {max_length} bytes"))
}

impl sigstore_tuf::Repository for HttpRepository {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(self.get(format!("{}/{name}", self.metadata_base), name, max_length))
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(self.get(format!("{}/{path}", self.targets_base), path, max_length))
    }
}
