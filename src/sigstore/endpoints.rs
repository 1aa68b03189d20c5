//! Which Fulcio and Rekor to use: the public-good and staging defaults, or a signing config
//! v0.2 (sigstore-protocol.md §2.3).

use crate::core::time::{UnixTime, Validity};
use crate::core::well_known::{PUBLIC_GOOD_FULCIO, PUBLIC_GOOD_REKOR, STAGING_FULCIO, STAGING_REKOR};
use crate::core::wire::trust_root::{Service, SigningConfig};
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::join;

/// The Fulcio and Rekor v1 base URLs to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub fulcio: String,
    pub rekor: String,
}

impl Endpoints {
    pub fn public_good() -> Self {
        Self { fulcio: PUBLIC_GOOD_FULCIO.into(), rekor: PUBLIC_GOOD_REKOR.into() }
    }

    pub fn staging() -> Self {
        Self { fulcio: STAGING_FULCIO.into(), rekor: STAGING_REKOR.into() }
    }

    /// Where people can look the entry up: search.sigstore.dev for public-good, the log's
    /// own API otherwise.
    pub fn transparency_log_url(&self, log_index: i64) -> String {
        if self.rekor.trim_end_matches('/') == PUBLIC_GOOD_REKOR {
            format!("https://search.sigstore.dev/?logIndex={log_index}")
        } else {
            format!("{}?logIndex={log_index}", join(&self.rekor, "/api/v1/log/entries"))
        }
    }
}

/// Picks Fulcio and Rekor from a signing config v0.2 (sigstore-protocol.md §2.3): services
/// valid at `now` with a supported API version (Fulcio v1, Rekor v1), highest version then
/// newest start first; one CA; Rekor per `rekorTlogConfig`, of which only one log is supported.
pub fn select_endpoints(config: &SigningConfig, now: UnixTime) -> anyhow::Result<Endpoints> {
    let usable = |services: &[Service], supported: &[u32]| -> Vec<Service> {
        let mut ok: Vec<(Service, UnixTime)> = services
            .iter()
            .filter(|s| supported.contains(&s.major_api_version))
            .filter_map(|s| {
                let validity = Validity::from_range(&s.valid_for).ok()?;
                validity.contains(now).then(|| (s.clone(), validity.start))
            })
            .collect();
        ok.sort_by(|(a, a_start), (b, b_start)| {
            b.major_api_version.cmp(&a.major_api_version).then(b_start.cmp(a_start))
        });
        ok.into_iter().map(|(s, _)| s).collect()
    };
    let fulcio = usable(&config.ca_urls, &[1])
        .into_iter()
        .next()
        .ok_or_else(|| fail(ExitKind::BadInput, "signing config names no Fulcio (v1 API) valid now"))?;
    let rekors = usable(&config.rekor_tlog_urls, &[1]);
    let Some(first) = rekors.first() else {
        let v2_only = config.rekor_tlog_urls.iter().any(|s| s.major_api_version == 2);
        return Err(if v2_only {
            fail_with_hint(
                ExitKind::BadInput,
                "signing config names only Rekor v2 logs, which npm-attest does not support yet",
                "add a Rekor v1 log (`majorApiVersion: 1`) to the signing config",
            )
        } else {
            fail(ExitKind::BadInput, "signing config names no Rekor (v1 API) log valid now")
        });
    };
    // One log per operator (§2.3); we write to exactly one, so ALL/EXACT asking for more fail.
    let mut operators: Vec<&str> = rekors.iter().map(|s| s.operator.as_str()).collect();
    operators.dedup();
    let required = match config.rekor_tlog_config.as_ref().map(|c| (c.selector.as_str(), c.count)) {
        Some(("ALL", _)) => operators.len(),
        Some(("EXACT", count)) => count.unwrap_or(1) as usize,
        _ => 1,
    };
    if required > 1 {
        return Err(fail(
            ExitKind::BadInput,
            format!("signing config asks for entries in {required} logs; npm-attest writes to one"),
        ));
    }
    Ok(Endpoints { fulcio: fulcio.url.clone(), rekor: first.url.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::time;
    use crate::core::wire::trust_root::{ServiceConfig, TimeRange, SIGNING_CONFIG_MEDIA_TYPE_V0_2};

    fn service(url: &str, version: u32, start: &str, end: Option<&str>, operator: &str) -> Service {
        Service {
            url: url.into(),
            major_api_version: version,
            valid_for: TimeRange { start: Some(start.into()), end: end.map(Into::into) },
            operator: operator.into(),
        }
    }

    #[test]
    fn signing_config_selection_prefers_supported_newest_and_valid() {
        let now = time::parse_rfc3339("2026-07-01T00:00:00Z").unwrap();
        let config = SigningConfig {
            media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.into(),
            ca_urls: vec![
                service("https://old-fulcio", 1, "2020-01-01T00:00:00Z", None, "a"),
                service("https://new-fulcio", 1, "2025-01-01T00:00:00Z", None, "a"),
                service("https://future-fulcio", 1, "2027-01-01T00:00:00Z", None, "a"),
            ],
            oidc_urls: vec![],
            rekor_tlog_urls: vec![
                service("https://rekor-v2", 2, "2026-06-12T00:00:00Z", None, "a"),
                service("https://expired-rekor", 1, "2020-01-01T00:00:00Z", Some("2021-01-01T00:00:00Z"), "a"),
                service("https://rekor", 1, "2021-01-12T00:00:00Z", None, "a"),
            ],
            tsa_urls: vec![],
            rekor_tlog_config: Some(ServiceConfig { selector: "ANY".into(), count: None }),
            tsa_config: None,
        };
        assert_eq!(
            select_endpoints(&config, now).unwrap(),
            Endpoints { fulcio: "https://new-fulcio".into(), rekor: "https://rekor".into() }
        );
        let mut v2_only = config.clone();
        v2_only.rekor_tlog_urls.truncate(1);
        let err = select_endpoints(&v2_only, now).unwrap_err();
        assert!(err.to_string().contains("Rekor v2"), "{err}");
        let mut exact_two = config;
        exact_two.rekor_tlog_config = Some(ServiceConfig { selector: "EXACT".into(), count: Some(2) });
        assert!(select_endpoints(&exact_two, now).is_err());
    }

    #[test]
    fn transparency_links() {
        assert_eq!(Endpoints::public_good().transparency_log_url(5), "https://search.sigstore.dev/?logIndex=5");
        let local = Endpoints { fulcio: "http://127.0.0.1:9".into(), rekor: "http://127.0.0.1:9/".into() };
        assert_eq!(local.transparency_log_url(0), "http://127.0.0.1:9/api/v1/log/entries?logIndex=0");
    }
}
