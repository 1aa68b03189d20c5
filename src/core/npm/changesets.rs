//! changesets 3's `publish-plan.json`, written by `changeset pack --out-dir D` next to the
//! tarballs it packed (package-managers.md §5): `{version: 1, plan: [[entry, …], …]}` where an
//! entry is `{kind: "publish", name, version, access, tag, tarball: {path, integrity}}` or
//! `{kind: "tag-only", name, version}`. The integrity is a sha256 SRI string.
//!
//! `tag` and `access` are what `changeset publish --from-pack-dir` passes to the publish tool
//! for that package (`--tag`, `--access`): the dist-tag decided when the plan was made (the
//! pre-release tag, or `latest`) and `publishConfig.access`, else the changesets config's
//! `access`.

use serde::Deserialize;

/// One tarball to publish, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTarball {
    pub name: String,
    pub version: String,
    /// As written in the plan (relative to the pack directory unless absolute).
    pub path: String,
    /// `sha256-<base64>`.
    pub integrity: String,
    /// The dist-tag to publish under, when the entry names one.
    pub tag: Option<String>,
    /// `public` or `restricted`, when the entry names one.
    pub access: Option<PlanAccess>,
}

/// A plan entry's `access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanAccess {
    Public,
    Restricted,
}

#[derive(Deserialize)]
struct Plan {
    version: u64,
    plan: Vec<Vec<Entry>>,
}

#[derive(Deserialize)]
struct Entry {
    kind: String,
    name: String,
    version: String,
    #[serde(default)]
    tarball: Option<Tarball>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    access: Option<PlanAccess>,
}

#[derive(Deserialize)]
struct Tarball {
    path: String,
    integrity: String,
}

/// The tarballs of a publish plan, chunk after chunk; `tag-only` entries are left out.
pub fn parse_publish_plan(bytes: &[u8]) -> Result<Vec<PlannedTarball>, String> {
    let plan: Plan = serde_json::from_slice(bytes).map_err(|e| format!("not a publish plan: {e}"))?;
    if plan.version != 1 {
        return Err(format!("publish plan version {} is not supported (only 1)", plan.version));
    }
    let mut out = Vec::new();
    for entry in plan.plan.into_iter().flatten() {
        match entry.kind.as_str() {
            "publish" => {
                let tarball = entry
                    .tarball
                    .ok_or_else(|| format!("{}@{}: a publish entry without a tarball", entry.name, entry.version))?;
                if !tarball.integrity.starts_with("sha256-") {
                    return Err(format!(
                        "{}@{}: integrity {:?} is not sha256",
                        entry.name, entry.version, tarball.integrity
                    ));
                }
                if let Some(tag) = &entry.tag {
                    check_tag(tag).map_err(|why| format!("{}@{}: tag {tag:?} {why}", entry.name, entry.version))?;
                }
                out.push(PlannedTarball {
                    name: entry.name,
                    version: entry.version,
                    path: tarball.path,
                    integrity: tarball.integrity,
                    tag: entry.tag,
                    access: entry.access,
                });
            }
            "tag-only" => {}
            other => return Err(format!("{}@{}: unknown plan entry kind {other:?}", entry.name, entry.version)),
        }
    }
    Ok(out)
}

/// A dist-tag the registry can hold: not empty, no whitespace, `/` or `%`, and not a semver
/// range (npm refuses those as tags, since `npm install name@1.x` must mean the range): the
/// range characters only, with a digit or a wildcard.
fn check_tag(tag: &str) -> Result<(), &'static str> {
    let body = tag.trim_start_matches(['v', '=']);
    let range_like = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || ".xX*^~<>=|-".contains(c))
        && body.chars().any(|c| c.is_ascii_digit() || "xX*".contains(c));
    if tag.is_empty() {
        Err("is empty")
    } else if tag.chars().any(|c| c.is_whitespace() || c == '/' || c == '%') {
        Err("contains whitespace, `/` or `%`")
    } else if range_like {
        Err("is a semver range, which npm refuses as a tag")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_gives_its_tarballs_in_order_without_tag_only_entries() {
        let plan = br#"{"version":1,"plan":[[{"kind":"publish","name":"core","version":"1.0.0","access":"public","tag":"latest","tarball":{"path":"packages/core-1.0.0.tgz","integrity":"sha256-AAA="}}],[{"kind":"tag-only","name":"old","version":"0.1.0"},{"kind":"publish","name":"@s/app","version":"2.0.0","access":"public","tag":"latest","tarball":{"path":"packages/s-app-2.0.0.tgz","integrity":"sha256-BBB="}}]]}"#;
        let got = parse_publish_plan(plan).unwrap();
        let names: Vec<&str> = got.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["core", "@s/app"]);
        assert_eq!(got[1].path, "packages/s-app-2.0.0.tgz");
        assert_eq!((got[0].tag.as_deref(), got[0].access), (Some("latest"), Some(PlanAccess::Public)));
        assert!(parse_publish_plan(br#"{"version":2,"plan":[]}"#).is_err());
        assert!(
            parse_publish_plan(br#"{"version":1,"plan":[[{"kind":"publish","name":"a","version":"1.0.0"}]]}"#).is_err()
        );
        assert!(parse_publish_plan(br#"{"version":1,"plan":[[{"kind":"publish","name":"a","version":"1.0.0","tarball":{"path":"a.tgz","integrity":"sha512-x"}}]]}"#).is_err());
    }

    #[test]
    fn each_entry_keeps_its_tag_and_access_and_a_bad_one_is_refused() {
        let entry = |extra: &str| {
            format!(
                r#"{{"version":1,"plan":[[{{"kind":"publish","name":"a","version":"1.0.0-beta.1","tarball":{{"path":"a.tgz","integrity":"sha256-x"}}{extra}}}]]}}"#
            )
        };
        let got = parse_publish_plan(entry(r#","tag":"beta","access":"restricted""#).as_bytes()).unwrap();
        assert_eq!((got[0].tag.as_deref(), got[0].access), (Some("beta"), Some(PlanAccess::Restricted)));
        // Entries without them leave the choice to the run.
        let got = parse_publish_plan(entry("").as_bytes()).unwrap();
        assert_eq!((got[0].tag.as_deref(), got[0].access), (None, None));
        for bad in [
            r#","access":"private""#,
            r#","tag":"1.x""#,
            r#","tag":"""#,
            r#","tag":"a b""#,
            r#","tag":"v2""#,
            r#","tag":"^3""#,
            r#","tag":"x""#,
        ] {
            assert!(parse_publish_plan(entry(bad).as_bytes()).is_err(), "{bad}");
        }
        for good in ["next", "beta", "v8-compat", "2024-lts", "canary", "rc"] {
            let tag = format!(r#","tag":"{good}""#);
            assert_eq!(parse_publish_plan(entry(&tag).as_bytes()).unwrap()[0].tag.as_deref(), Some(good));
        }
    }
}
