//! changesets 3's `publish-plan.json`, written by `changeset pack --out-dir D` next to the
//! tarballs it packed (package-managers.md §5): `{version: 1, plan: [[entry, …], …]}` where an
//! entry is `{kind: "publish", name, version, access, tag, tarball: {path, integrity}}` or
//! `{kind: "tag-only", name, version}`. The integrity is a sha256 SRI string.

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
                out.push(PlannedTarball {
                    name: entry.name,
                    version: entry.version,
                    path: tarball.path,
                    integrity: tarball.integrity,
                });
            }
            "tag-only" => {}
            other => return Err(format!("{}@{}: unknown plan entry kind {other:?}", entry.name, entry.version)),
        }
    }
    Ok(out)
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
        assert!(parse_publish_plan(br#"{"version":2,"plan":[]}"#).is_err());
        assert!(
            parse_publish_plan(br#"{"version":1,"plan":[[{"kind":"publish","name":"a","version":"1.0.0"}]]}"#).is_err()
        );
        assert!(parse_publish_plan(br#"{"version":1,"plan":[[{"kind":"publish","name":"a","version":"1.0.0","tarball":{"path":"a.tgz","integrity":"sha512-x"}}]]}"#).is_err());
    }
}
