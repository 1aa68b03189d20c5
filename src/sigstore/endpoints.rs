//! Which Fulcio and Rekor to use: the public-good and staging defaults, or a signing config
//! v0.2 (sigstore-protocol.md §2.3).

use crate::core::time::{UnixTime, Validity};
use crate::core::well_known::{
    GITHUB_FULCIO, GITHUB_TSA, PUBLIC_GOOD_FULCIO, PUBLIC_GOOD_REKOR, STAGING_FULCIO, STAGING_REKOR,
};
use crate::core::wire::trust_root::{Service, ServiceConfig, SigningConfig};
use crate::error::{fail, fail_with_hint, ExitKind};
use crate::http::join;

/// The services to sign with: a Fulcio, one transparency log (Rekor v1 or v2) or none, and the
/// timestamp authorities (full URLs) whose RFC 3161 timestamps go into each bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub fulcio: String,
    /// The transparency log's base URL; `None` for an instance that logs nothing (GitHub's:
    /// the signature is dated by the TSAs alone).
    pub rekor: Option<String>,
    /// The log's major API version: 1 (`/api/v1/log/entries`, entries with a SET) or 2
    /// (`/api/v2/log/entries`, time from the TSAs).
    pub rekor_version: u32,
    pub tsa: Vec<String>,
}

/// The Rekor API versions this client writes to.
pub const SUPPORTED_REKOR_VERSIONS: [u32; 2] = [1, 2];

impl Endpoints {
    /// Fulcio and Rekor v1 at one base URL (the stand-in, or `--sigstore URL`), no TSA.
    pub fn v1(fulcio: String, rekor: String) -> Self {
        Self { fulcio, rekor: Some(rekor), rekor_version: 1, tsa: Vec::new() }
    }

    pub fn public_good() -> Self {
        Self::v1(PUBLIC_GOOD_FULCIO.into(), PUBLIC_GOOD_REKOR.into())
    }

    pub fn staging() -> Self {
        Self::v1(STAGING_FULCIO.into(), STAGING_REKOR.into())
    }

    /// GitHub's own instance: its Fulcio and TSA, and no transparency log (nothing about a
    /// private repository is published).
    pub fn github() -> Self {
        Self { fulcio: GITHUB_FULCIO.into(), rekor: None, rekor_version: 1, tsa: vec![GITHUB_TSA.into()] }
    }

    /// The local stand-in in GitHub-instance form at `base`: its CA and TSA, no log.
    pub fn github_standin(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self { fulcio: base.to_owned(), rekor: None, rekor_version: 1, tsa: vec![format!("{base}/api/v1/timestamp")] }
    }

    /// The layout of the local stand-in (`serve-sigstore`) at `base`: Fulcio and Rekor v1 at the
    /// base, Rekor v2 under `/rekor-v2`, the TSA at `/api/v1/timestamp`.
    pub fn standin(base: &str, rekor_version: u32) -> Self {
        let base = base.trim_end_matches('/');
        match rekor_version {
            2 => Self {
                fulcio: base.to_owned(),
                rekor: Some(format!("{base}/rekor-v2")),
                rekor_version: 2,
                tsa: vec![format!("{base}/api/v1/timestamp")],
            },
            _ => Self::v1(base.to_owned(), base.to_owned()),
        }
    }

    /// Where people can look the entry up: search.sigstore.dev for public-good, the log's
    /// own API otherwise; `None` for an instance without a log.
    pub fn transparency_log_url(&self, log_index: i64) -> Option<String> {
        let rekor = self.rekor.as_deref()?.trim_end_matches('/');
        Some(if rekor == PUBLIC_GOOD_REKOR {
            format!("https://search.sigstore.dev/?logIndex={log_index}")
        } else if self.rekor_version == 2 {
            // Rekor v2 serves tiles, not entries by index; name the log and the index.
            format!("{rekor} (log index {log_index})")
        } else {
            format!("{}?logIndex={log_index}", join(rekor, "/api/v1/log/entries"))
        })
    }
}

/// The usable services of one kind (sigstore-protocol.md §2.3, as sigstore-python and
/// sigstore-go select them): valid at `now` (inclusive window), with a supported API version;
/// one per operator, the highest version (then the newest start) of that operator; operators in
/// the order the config lists them.
fn usable(services: &[Service], supported: &[u32], now: UnixTime) -> Vec<Service> {
    let mut best: Vec<(Service, UnixTime)> = Vec::new();
    for service in services.iter().filter(|s| supported.contains(&s.major_api_version)) {
        let Some(start) = Validity::from_range(&service.valid_for).ok().filter(|v| v.contains(now)).map(|v| v.start)
        else {
            continue;
        };
        match best.iter_mut().find(|(b, _)| b.operator == service.operator) {
            Some(slot) => {
                let better = (service.major_api_version, start) > (slot.0.major_api_version, slot.1);
                if better {
                    *slot = (service.clone(), start);
                }
            }
            None => best.push((service.clone(), start)),
        }
    }
    best.into_iter().map(|(s, _)| s).collect()
}

/// Applies a `ServiceConfiguration` selector: ALL keeps every operator's service, ANY the first,
/// EXACT the first `count` (too few is an error). No configuration means ALL.
fn apply_selector(
    mut services: Vec<Service>,
    config: Option<&ServiceConfig>,
    what: &str,
) -> anyhow::Result<Vec<Service>> {
    let count = match config.map(|c| (c.selector.as_str(), c.count)) {
        None | Some(("ALL", _)) => services.len(),
        Some(("ANY", _)) => 1,
        Some(("EXACT", count)) => {
            let count = count.unwrap_or(1) as usize;
            if services.len() < count {
                return Err(fail(
                    ExitKind::BadInput,
                    format!("signing config asks for {count} {what}, but only {} qualify now", services.len()),
                ));
            }
            count
        }
        Some((other, _)) => {
            return Err(fail(ExitKind::BadInput, format!("signing config selector {other:?} is not ALL, ANY or EXACT")))
        }
    };
    services.truncate(count);
    Ok(services)
}

/// Picks Fulcio, the transparency log and the TSAs from a signing config v0.2
/// (sigstore-protocol.md §2.3). `rekor_version` restricts the log to one API version
/// (`--rekor-version`); otherwise the highest supported version wins. Logs of one selection
/// never mix API versions; npm-attest writes each bundle to exactly one log, so a config asking
/// for entries in several logs is refused. A Rekor v2 log needs at least one TSA (it issues no
/// signed time of its own).
pub fn select_endpoints(
    config: &SigningConfig,
    now: UnixTime,
    rekor_version: Option<u32>,
) -> anyhow::Result<Endpoints> {
    let fulcio = usable(&config.ca_urls, &[1], now)
        .into_iter()
        .next()
        .ok_or_else(|| fail(ExitKind::BadInput, "signing config names no Fulcio (v1 API) valid now"))?;
    let tsas =
        apply_selector(usable(&config.tsa_urls, &[1], now), config.tsa_config.as_ref(), "timestamp authorities")?;
    // A config that lists no log at all describes an instance that logs nothing (GitHub's):
    // the TSAs alone date the signature, so there must be one.
    if config.rekor_tlog_urls.is_empty() && rekor_version.is_none() {
        if tsas.is_empty() {
            return Err(fail(
                ExitKind::BadInput,
                "signing config names neither a transparency log nor a timestamp authority valid now",
            ));
        }
        return Ok(Endpoints {
            fulcio: fulcio.url.clone(),
            rekor: None,
            rekor_version: 1,
            tsa: tsas.into_iter().map(|s| s.url).collect(),
        });
    }
    let versions: Vec<u32> = match rekor_version {
        Some(v) => vec![v],
        None => SUPPORTED_REKOR_VERSIONS.to_vec(),
    };
    let logs = usable(&config.rekor_tlog_urls, &versions, now);
    let Some(highest) = logs.iter().map(|s| s.major_api_version).max() else {
        return Err(match rekor_version {
            Some(v) => fail_with_hint(
                ExitKind::BadInput,
                format!("signing config names no Rekor v{v} log valid now"),
                "drop --rekor-version, or pass --rekor-url",
            ),
            None => fail(ExitKind::BadInput, "signing config names no Rekor (v1 or v2 API) log valid now"),
        });
    };
    // Do not mix API versions: keep the highest one's logs.
    let logs: Vec<Service> = logs.into_iter().filter(|s| s.major_api_version == highest).collect();
    let logs = apply_selector(logs, config.rekor_tlog_config.as_ref(), "transparency logs")?;
    let [log] = logs.as_slice() else {
        return Err(fail(
            ExitKind::BadInput,
            format!("signing config asks for entries in {} logs; npm-attest writes to one", logs.len()),
        ));
    };
    if log.major_api_version == 2 && tsas.is_empty() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            "signing config names a Rekor v2 log but no timestamp authority valid now",
            "Rekor v2 issues no signed time: add a tsaUrls entry, or pass --tsa-url",
        ));
    }
    Ok(Endpoints {
        fulcio: fulcio.url.clone(),
        rekor: Some(log.url.clone()),
        rekor_version: log.major_api_version,
        tsa: tsas.into_iter().map(|s| s.url).collect(),
    })
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
        // v2 is the highest version of operator "a", but needs a TSA.
        let err = select_endpoints(&config, now, None).unwrap_err();
        assert!(err.to_string().contains("no timestamp authority"), "{err}");
        assert_eq!(
            select_endpoints(&config, now, Some(1)).unwrap(),
            Endpoints::v1("https://new-fulcio".into(), "https://rekor".into())
        );
        let mut with_tsa = config.clone();
        with_tsa.tsa_urls = vec![
            service("https://expired-tsa", 1, "2020-01-01T00:00:00Z", Some("2021-01-01T00:00:00Z"), "a"),
            service("https://tsa", 1, "2025-01-01T00:00:00Z", None, "a"),
            service("https://tsa-b", 1, "2025-01-01T00:00:00Z", None, "b"),
        ];
        with_tsa.tsa_config = Some(ServiceConfig { selector: "ANY".into(), count: None });
        let chosen = select_endpoints(&with_tsa, now, None).unwrap();
        assert_eq!((chosen.rekor.as_deref(), chosen.rekor_version), (Some("https://rekor-v2"), 2));
        assert_eq!(chosen.tsa, vec!["https://tsa".to_owned()], "ANY: the first operator's");
        with_tsa.tsa_config = Some(ServiceConfig { selector: "ALL".into(), count: None });
        assert_eq!(select_endpoints(&with_tsa, now, None).unwrap().tsa.len(), 2, "ALL: one per operator");
        with_tsa.tsa_config = Some(ServiceConfig { selector: "EXACT".into(), count: Some(3) });
        assert!(select_endpoints(&with_tsa, now, None).is_err(), "EXACT 3 of 2 operators");
        let mut v2_only = config.clone();
        v2_only.rekor_tlog_urls.truncate(1);
        assert!(select_endpoints(&v2_only, now, Some(1)).unwrap_err().to_string().contains("Rekor v1"));
        let mut exact_two = config;
        exact_two.rekor_tlog_config = Some(ServiceConfig { selector: "EXACT".into(), count: Some(2) });
        assert!(select_endpoints(&exact_two, now, Some(1)).is_err());
    }

    #[test]
    fn a_signing_config_without_logs_signs_with_timestamps_only() {
        let now = time::parse_rfc3339("2026-07-01T00:00:00Z").unwrap();
        let mut config = SigningConfig {
            media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.into(),
            ca_urls: vec![service("https://fulcio.example", 1, "2025-01-01T00:00:00Z", None, "gh")],
            oidc_urls: vec![],
            rekor_tlog_urls: vec![],
            tsa_urls: vec![service("https://tsa.example/api/v1/timestamp", 1, "2025-01-01T00:00:00Z", None, "gh")],
            rekor_tlog_config: None,
            tsa_config: Some(ServiceConfig { selector: "ANY".into(), count: None }),
        };
        let chosen = select_endpoints(&config, now, None).unwrap();
        assert_eq!(chosen.rekor, None);
        assert_eq!(chosen.tsa, vec!["https://tsa.example/api/v1/timestamp".to_owned()]);
        // Asking for a log that the config does not have is an error, not a silent no-log.
        assert!(select_endpoints(&config, now, Some(1)).is_err());
        // Neither a log nor a TSA: nothing would date the signature.
        config.tsa_urls.clear();
        assert!(select_endpoints(&config, now, None).unwrap_err().to_string().contains("neither"));
    }

    #[test]
    fn transparency_links() {
        assert_eq!(
            Endpoints::public_good().transparency_log_url(5).as_deref(),
            Some("https://search.sigstore.dev/?logIndex=5")
        );
        let local = Endpoints::v1("http://127.0.0.1:9".into(), "http://127.0.0.1:9/".into());
        assert_eq!(local.transparency_log_url(0).as_deref(), Some("http://127.0.0.1:9/api/v1/log/entries?logIndex=0"));
        assert_eq!(Endpoints::github().transparency_log_url(0), None, "GitHub's instance has no log");
    }
}
