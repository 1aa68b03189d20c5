//! Release pipelines end to end (GitHub issue 12): fixture monorepos on pnpm 10, Yarn 4 and Bun
//! (`workspace:*`, `workspace:^`, `catalog:`, `publishConfig`) published by
//! `npm-attest publish --workspaces` to a real registry (Verdaccio on loopback, without
//! provenance, which Verdaccio refuses), then installed back with the same manager in a fresh
//! consumer project: the installed packages are the published versions, their bytes are the
//! tarball npm-attest published (which is the manager's own `pack` output), and the publish
//! went dependencies first; a second run publishes nothing. One pnpm monorepo also goes to the
//! registry stand-in with provenance (trusted publishing, the local Sigstore stand-in) and is
//! installed back with npm and verified from the registry.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::interop::{interop_dir, run_with_timeout, Verdaccio};
use crate::support::{run_in, stderr, stdout};

/// Installs and packs of a few small packages; generous for a loaded 2-core machine.
const TOOL_TIMEOUT: Duration = Duration::from_secs(240);

/// The package managers' bin directory first on PATH (tests/setup-interop installs them).
pub(crate) fn pm_path() -> String {
    let bin = interop_dir().join("pm/node_modules/.bin");
    for tool in ["pnpm", "yarn", "bun"] {
        assert!(bin.join(tool).exists(), "{tool} is not installed in {}: run tests/setup-interop", bin.display());
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

pub(crate) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub(crate) fn write_json(path: &Path, value: &Value) {
    write(path, &(serde_json::to_string_pretty(value).unwrap() + "\n"));
}

/// Where a test's package managers keep their state: a private HOME (no user `.npmrc`,
/// `.yarnrc.yml` or bunfig), so that only the project files written here configure them.
pub(crate) struct Sandbox {
    pub path: String,
    pub home: PathBuf,
}

impl Sandbox {
    pub(crate) fn new(work: &Path) -> Self {
        let home = work.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Self { path: pm_path(), home }
    }

    /// `program args` in `dir` with only PATH, HOME, TMPDIR, CI and the Yarn switches set;
    /// fails the test unless it succeeds.
    pub(crate) fn run(&self, dir: &Path, program: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(dir).env_clear().env("PATH", &self.path).env("HOME", &self.home);
        for key in ["TMPDIR", "CI", "LANG"] {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        cmd.env("YARN_ENABLE_TELEMETRY", "0")
            // Under CI=true Yarn refuses to write a lockfile it does not have yet.
            .env("YARN_ENABLE_IMMUTABLE_INSTALLS", "false")
            .env("YARN_ENABLE_GLOBAL_CACHE", "false")
            .env("npm_config_update_notifier", "false");
        let out = run_with_timeout(cmd, TOOL_TIMEOUT);
        assert!(
            out.status.success(),
            "{program} {args:?} in {}: {}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Points `manager` at `registry` (and nowhere else) for the project in `dir`.
pub(crate) fn registry_config(dir: &Path, manager: &str, registry: &str, work: &Path) {
    let host = url::Url::parse(registry).unwrap().host_str().unwrap().to_owned();
    match manager {
        // Yarn 4.18 quarantines versions published moments ago (`npmMinimalAgeGate`): here
        // every version is.
        "yarn" => write(
            &dir.join(".yarnrc.yml"),
            &format!(
                "npmRegistryServer: \"{}\"\nunsafeHttpWhitelist:\n  - \"{host}\"\nnodeLinker: node-modules\nenableTelemetry: false\nenableGlobalCache: false\nnpmMinimalAgeGate: 0\n",
                registry.trim_end_matches('/')
            ),
        ),
        "bun" => write(
            &dir.join("bunfig.toml"),
            &format!(
                "[install]\nregistry = \"{registry}\"\n[install.cache]\ndir = \"{}\"\n",
                work.join("bun-cache").display()
            ),
        ),
        // npm and pnpm read `.npmrc`.
        _ => write(
            &dir.join(".npmrc"),
            &format!(
                "registry={registry}\nstore-dir={}\ncache={}\naudit=false\nfund=false\nupdate-notifier=false\n",
                work.join("pnpm-store").display(),
                work.join("npm-cache").display()
            ),
        ),
    }
}

/// The fixture monorepo for `manager` at `root`:
/// - `@mono/core` 1.2.3 with `publishConfig.main` (`dist/index.js` instead of `index.js`),
/// - `@mono/util` 0.3.0 depending on `tiny-ext` through `catalog:` (when `external`),
/// - `@mono/app` 2.0.0 depending on `@mono/core` (`workspace:*`) and `@mono/util`
///   (`workspace:^`); it prints what it loaded, so a consumer can run it.
///
/// Directory order (app, core, util) is not the dependency order (core and util, then app).
pub(crate) fn monorepo(root: &Path, manager: &str, repository: &str, external: bool) {
    let mut manifest = json!({"name": format!("mono-{manager}"), "version": "0.0.0", "private": true});
    let catalog = "catalog:\n  tiny-ext: ^1.0.0\n";
    match manager {
        "pnpm" => {
            manifest["packageManager"] = json!("pnpm@10.34.9");
            let catalog = if external { catalog } else { "" };
            write(&root.join("pnpm-workspace.yaml"), &format!("packages:\n  - 'packages/*'\n{catalog}"));
        }
        "yarn" => {
            manifest["packageManager"] = json!("yarn@4.18.1");
            manifest["workspaces"] = json!(["packages/*"]);
            write(&root.join("yarn.lock"), "");
        }
        _ => {
            manifest["workspaces"] = json!({"packages": ["packages/*"], "catalog": {"tiny-ext": "^1.0.0"}});
        }
    }
    write_json(&root.join("package.json"), &manifest);
    let repo = json!({"type": "git", "url": format!("git+https://github.com/{repository}.git")});
    write_json(
        &root.join("packages/core/package.json"),
        &json!({"name": "@mono/core", "version": "1.2.3", "license": "MIT", "main": "index.js",
                "repository": repo, "publishConfig": {"main": "dist/index.js"}}),
    );
    write(&root.join("packages/core/index.js"), "module.exports = 'src';\n");
    write(&root.join("packages/core/dist/index.js"), "module.exports = 'dist';\n");
    let mut util = json!({"name": "@mono/util", "version": "0.3.0", "license": "MIT", "repository": repo});
    if external {
        util["dependencies"] = json!({"tiny-ext": "catalog:"});
        write(&root.join("packages/util/index.js"), "module.exports = 'util:' + require('tiny-ext');\n");
    } else {
        write(&root.join("packages/util/index.js"), "module.exports = 'util';\n");
    }
    write_json(&root.join("packages/util/package.json"), &util);
    write_json(
        &root.join("packages/app/package.json"),
        &json!({"name": "@mono/app", "version": "2.0.0", "license": "MIT", "repository": repo,
                "dependencies": {"@mono/core": "workspace:*", "@mono/util": "workspace:^"}}),
    );
    write(
        &root.join("packages/app/index.js"),
        "module.exports = ['app', require('@mono/core'), require('@mono/util')].join('+');\n",
    );
}

/// `tiny-ext@1.0.0`, the catalog's external dependency, published to Verdaccio with npm.
fn publish_external(verdaccio: &Verdaccio, work: &Path) {
    let dir = work.join("tiny-ext");
    write_json(&dir.join("package.json"), &json!({"name": "tiny-ext", "version": "1.0.0", "license": "MIT"}));
    write(&dir.join("index.js"), "module.exports = 'ext1';\n");
    let out = verdaccio.npm(&dir).args(["publish"]).output().unwrap();
    assert!(out.status.success(), "npm publish tiny-ext: {}", String::from_utf8_lossy(&out.stderr));
}

/// Path → bytes of every regular file in a `.tgz`, the `package/` prefix removed.
pub(crate) fn tar_entries(tgz: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(path.strip_prefix("package/").unwrap_or(&path).to_owned(), bytes);
    }
    out
}

pub(crate) fn sri_sha512(bytes: &[u8]) -> String {
    format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(bytes)))
}

/// `GET url` on a loopback registry, as bytes (tarballs are binary).
pub(crate) fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let parsed = url::Url::parse(url).unwrap();
    let mut stream = std::net::TcpStream::connect((parsed.host_str().unwrap(), parsed.port().unwrap())).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let path = &url[url.find(parsed.path()).unwrap()..];
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}:{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        parsed.host_str().unwrap(),
        parsed.port().unwrap()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&raw[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).expect("a chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Where Node would find package `name` required from `from` (a package directory): the
/// nearest `node_modules/<name>` walking up, as pnpm's symlinked layout needs.
pub(crate) fn node_resolve(from: &Path, name: &str) -> PathBuf {
    let from = std::fs::canonicalize(from).unwrap();
    for dir in from.ancestors() {
        if dir.file_name().is_some_and(|n| n == "node_modules") {
            continue;
        }
        let candidate = dir.join("node_modules").join(name);
        if candidate.join("package.json").is_file() {
            return std::fs::canonicalize(candidate).unwrap();
        }
    }
    panic!("{name} is not installed where {} can require it", from.display())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

const NAMES: [(&str, &str); 3] = [("@mono/core", "1.2.3"), ("@mono/util", "0.3.0"), ("@mono/app", "2.0.0")];

/// The whole round trip for one manager.
fn publish_and_install_back(manager: &str) {
    let verdaccio = Verdaccio::start();
    let registry = verdaccio.url();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let sandbox = Sandbox::new(work);
    publish_external(&verdaccio, work);

    // The monorepo, installed from the registry as its developers would.
    let root = work.join("mono");
    monorepo(&root, manager, "octo/mono", true);
    registry_config(&root, manager, &registry, work);
    if manager == "yarn" {
        // The catalog lives in .yarnrc.yml for Yarn (4.10+).
        let mut rc = std::fs::read_to_string(root.join(".yarnrc.yml")).unwrap();
        rc.push_str("catalog:\n  tiny-ext: ^1.0.0\n");
        write(&root.join(".yarnrc.yml"), &rc);
    }
    match manager {
        "pnpm" => sandbox.run(&root, "pnpm", &["install", "--no-frozen-lockfile"]),
        "yarn" => sandbox.run(&root, "yarn", &["install"]),
        _ => sandbox.run(&root, "bun", &["install"]),
    };

    // Published by npm-attest, packed by the project's own manager.
    let env = [
        ("HOME", sandbox.home.to_str().unwrap()),
        ("PATH", sandbox.path.as_str()),
        ("NODE_AUTH_TOKEN", "verdaccio-accepts-any-token"),
    ];
    let args = ["publish", "--workspaces", "--no-provenance", "--registry", &registry, "--json", "mono"];
    let out = run_in(work, &args, &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{manager}: {so}\n{se}");
    assert!(se.contains(&format!("with `{manager} pack`")), "{manager}: {se}");
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert_eq!((result["succeeded"].as_u64(), result["failed"].as_u64()), (Some(3), Some(0)), "{result}");
    let published: BTreeMap<String, String> = result["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["integrity"].as_str().unwrap().to_owned()))
        .collect();

    // Dependencies first: the plan printed, and the uploads as they happened.
    let plan = se.find("dependencies first:").unwrap_or_else(|| panic!("{manager}: no plan: {se}"));
    assert!(se[plan..].contains("1. @mono/core@1.2.3\n  2. @mono/util@0.3.0\n  3. @mono/app@2.0.0"), "{manager}: {se}");
    let done = |label: &str| se.find(&format!("Published {label} to ")).unwrap_or_else(|| panic!("{label}: {se}"));
    assert!(done("@mono/app@2.0.0") > done("@mono/core@1.2.3").max(done("@mono/util@0.3.0")), "{se}");

    // What the registry holds: our integrity, and bytes identical to the manager's own pack.
    let mut times = BTreeMap::new();
    let mut registry_tarballs = BTreeMap::new();
    for (name, version) in NAMES {
        let (status, body) = verdaccio.get(&format!("/{}", name.replace('/', "%2f")));
        assert_eq!(status, 200, "{name}: {body}");
        let packument: Value = serde_json::from_str(&body).unwrap();
        let dist = &packument["versions"][version]["dist"];
        assert_eq!(dist["integrity"].as_str(), Some(published[name].as_str()), "{manager} {name}");
        assert_eq!(packument["dist-tags"]["latest"], version);
        times.insert(name, packument["time"][version].as_str().unwrap().to_owned());
        let (status, tgz) = get_bytes(dist["tarball"].as_str().unwrap());
        assert_eq!(status, 200);
        assert_eq!(sri_sha512(&tgz), published[name], "{manager} {name}: the registry serves other bytes");
        let dir = root.join("packages").join(name.trim_start_matches("@mono/"));
        let theirs = own_pack(&sandbox, manager, &dir, &work.join(format!("own-{}", name.replace('/', "-"))));
        assert_same_tarball(
            manager,
            &theirs,
            &tgz,
            &format!("{manager} {name}: the published tarball is not what `{manager} pack` writes"),
        );
        registry_tarballs.insert(name, tgz);
    }
    // Verdaccio's own clock agrees: app went up after what it depends on.
    assert!(times["@mono/app"] >= times["@mono/core"] && times["@mono/app"] >= times["@mono/util"], "{times:?}");

    // A fresh consumer installs the dependent package with the same manager.
    let consumer = work.join("consumer");
    write_json(
        &consumer.join("package.json"),
        &json!({"name": "consumer", "version": "1.0.0", "private": true, "dependencies": {"@mono/app": "2.0.0"}}),
    );
    registry_config(&consumer, manager, &registry, work);
    match manager {
        "pnpm" => sandbox.run(&consumer, "pnpm", &["install", "--no-frozen-lockfile"]),
        "yarn" => {
            write(&consumer.join("yarn.lock"), "");
            sandbox.run(&consumer, "yarn", &["install"])
        }
        _ => sandbox.run(&consumer, "bun", &["install"]),
    };
    let app = node_resolve(&consumer, "@mono/app");
    let installed = |name: &str| if name == "@mono/app" { app.clone() } else { node_resolve(&app, name) };
    for (name, version) in NAMES {
        let dir = installed(name);
        let manifest = read_json(&dir.join("package.json"));
        assert_eq!(manifest["version"], version, "{manager} {name}");
        // The installed files are the bytes npm-attest published, file for file.
        let entries = tar_entries(&registry_tarballs[name]);
        for (path, bytes) in &entries {
            let on_disk = std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{manager} {name}/{path}: {e}"));
            assert!(on_disk == *bytes, "{manager}: {name}/{path} differs from the published tarball");
        }
    }
    let app_manifest = read_json(&app.join("package.json"));
    assert_eq!(app_manifest["dependencies"], json!({"@mono/core": "1.2.3", "@mono/util": "^0.3.0"}), "{manager}");
    let util_manifest = read_json(&installed("@mono/util").join("package.json"));
    assert_eq!(util_manifest["dependencies"], json!({"tiny-ext": "^1.0.0"}), "{manager}");
    assert_eq!(read_json(&node_resolve(&installed("@mono/util"), "tiny-ext").join("package.json"))["version"], "1.0.0");

    // The lockfiles that record npm's integrity record ours (Yarn records a checksum of its
    // own cache archive instead; its installed bytes were compared above).
    lockfile_integrity(manager, &consumer, &published);

    // And the dependent package runs, with what its dependencies published (Bun applies no
    // publishConfig field overrides, so core's `main` stays index.js there).
    let core = if manager == "bun" { "src" } else { "dist" };
    let ran = sandbox.run(&consumer, "node", &["-p", "require('@mono/app')"]);
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), format!("app+{core}+util:ext1"), "{manager}");

    // A second run publishes nothing and says so.
    let again = run_in(work, &["publish", "--workspaces", "--no-provenance", "--registry", &registry, "mono"], &env);
    let (so, se) = (stdout(&again), stderr(&again));
    assert!(again.status.success(), "{manager}: {so}\n{se}");
    assert_eq!(so.lines().filter(|l| l.starts_with("skipped")).count(), 3, "{so}");
    assert!(so.contains("0 published, 3 skipped (already on the registry), 0 failed"), "{so}");
    assert!(so.contains("nothing to publish: every version is already on the registry"), "{so}");
    assert!(!so.contains("New tag:"), "{so}");
    for (name, version) in NAMES {
        let packument: Value =
            serde_json::from_str(&verdaccio.get(&format!("/{}", name.replace('/', "%2f"))).1).unwrap();
        assert_eq!(packument["time"][version].as_str(), Some(times[name].as_str()), "{name} was published again");
    }
}

/// The manager's own pack of `pkg`, as bytes.
fn own_pack(sandbox: &Sandbox, manager: &str, pkg: &Path, dest: &Path) -> Vec<u8> {
    std::fs::create_dir_all(dest).unwrap();
    let d = dest.to_str().unwrap();
    match manager {
        "pnpm" => sandbox.run(pkg, "pnpm", &["pack", "--pack-destination", d]),
        "yarn" => sandbox.run(pkg, "yarn", &["pack", "--out", &format!("{d}/package.tgz")]),
        "bun" => sandbox.run(pkg, "bun", &["pm", "pack", "--destination", d, "--quiet"]),
        _ => sandbox.run(pkg, "npm", &["pack", "--pack-destination", d]),
    };
    let tarball =
        std::fs::read_dir(dest).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "tgz"));
    std::fs::read(tarball.expect("the manager wrote a tarball")).unwrap()
}

/// Byte-identical tarballs; when not, the failure shows how their contents differ.
///
/// pnpm 10 writes the `workspace:` dependencies it rewrote in the order their manifests were
/// read, which varies from run to run (pnpm/pnpm#10167, fixed upstream by pnpm/pnpm#13751 but
/// still in pnpm 10.34.9): two `pnpm pack` runs of one package can differ in that key order
/// alone. For pnpm that difference, and only that (every other entry byte-identical, the
/// package.json equal as JSON), is accepted; npm-attest signs and uploads the one file pnpm
/// wrote, so the published tarball and its provenance agree either way.
pub(crate) fn assert_same_tarball(manager: &str, theirs: &[u8], ours: &[u8], what: &str) {
    if theirs == ours {
        return;
    }
    let (a, b) = (tar_entries(theirs), tar_entries(ours));
    let differing: Vec<&String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).collect();
    let json = |m: &BTreeMap<String, Vec<u8>>| serde_json::from_slice::<Value>(&m["package.json"]).ok();
    let key_order_only = manager == "pnpm"
        && differing.iter().all(|k| *k == "package.json")
        && a.keys().eq(b.keys())
        && json(&a).is_some()
        && json(&a) == json(&b);
    if key_order_only {
        return;
    }
    let shown: Vec<String> = differing
        .iter()
        .map(|k| {
            let text = |m: &BTreeMap<String, Vec<u8>>| m.get(*k).map(|v| String::from_utf8_lossy(v).into_owned());
            format!("{k}: {:?} vs {:?}", text(&a), text(&b))
        })
        .collect();
    panic!("{what} ({} vs {} bytes); differing entries: {shown:?}", theirs.len(), ours.len());
}

/// pnpm-lock.yaml and bun.lock record each package's registry integrity: ours.
fn lockfile_integrity(manager: &str, consumer: &Path, published: &BTreeMap<String, String>) {
    match manager {
        "pnpm" => {
            let lock: Value =
                serde_norway::from_str(&std::fs::read_to_string(consumer.join("pnpm-lock.yaml")).unwrap()).unwrap();
            for (name, version) in NAMES {
                let entry = &lock["packages"][format!("{name}@{version}")];
                assert_eq!(entry["resolution"]["integrity"].as_str(), Some(published[name].as_str()), "{lock}");
            }
            assert_eq!(
                lock["snapshots"]["@mono/app@2.0.0"]["dependencies"],
                json!({"@mono/core": "1.2.3", "@mono/util": "0.3.0"})
            );
        }
        "bun" => {
            let lock = std::fs::read_to_string(consumer.join("bun.lock")).unwrap();
            for (name, version) in NAMES {
                let line = lock
                    .lines()
                    .find(|l| l.contains(&format!("[\"{name}@{version}\"")))
                    .unwrap_or_else(|| panic!("{name}@{version} is not in bun.lock:\n{lock}"));
                assert!(line.contains(&format!("\"{}\"", published[name])), "{line}");
            }
        }
        _ => {
            let lock = std::fs::read_to_string(consumer.join("yarn.lock")).unwrap();
            for (name, version) in NAMES {
                assert!(lock.contains(&format!("resolution: \"{name}@npm:{version}\"")), "{lock}");
            }
        }
    }
}

#[test]
fn a_pnpm_monorepo_published_to_verdaccio_installs_back_with_pnpm() {
    publish_and_install_back("pnpm");
}

#[test]
fn a_yarn_monorepo_published_to_verdaccio_installs_back_with_yarn() {
    publish_and_install_back("yarn");
}

#[test]
fn a_bun_monorepo_published_to_verdaccio_installs_back_with_bun() {
    publish_and_install_back("bun");
}

/// With provenance, to the registry stand-in (which checks the provenance as the public
/// registry does): a pnpm monorepo published through trusted publishing and the local Sigstore
/// stand-in, one certificate for the batch, dependencies first; npm installs it back from the
/// stand-in and `verify --registry` checks every installed package against its provenance.
#[test]
fn a_pnpm_monorepo_published_with_provenance_installs_back_with_npm_and_verifies() {
    use crate::publish::{actions_env, ActionsRuntime};
    use crate::registry::{RegistryConfig, RegistryStandin, TrustedPublisher};

    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let sandbox = Sandbox::new(work);
    let root = work.join("mono");
    monorepo(&root, "pnpm", "octo/hello", false);
    sandbox.run(&root, "pnpm", &["install", "--offline", "--no-frozen-lockfile"]);

    let publisher = |package: &str| TrustedPublisher {
        package: package.into(),
        repository: "octo/hello".into(),
        workflow_file: "release.yml".into(),
    };
    let registry = RegistryStandin::start(RegistryConfig {
        trusted_publishers: NAMES.iter().map(|(name, _)| publisher(name)).collect(),
        ..RegistryConfig::default()
    });
    // Trusted publishing needs packages that exist already (a first version goes out with a
    // token); none of these satisfies what the new versions ask of each other.
    for (name, earlier) in [("@mono/core", "1.0.0"), ("@mono/util", "0.2.0"), ("@mono/app", "1.0.0")] {
        registry.seed_version(name, earlier);
    }
    let url = registry.url();
    let runtime = ActionsRuntime::start("octo/hello", "public");
    let mut env = actions_env(&sandbox.home, Some(&runtime));
    env.push(("PATH".to_owned(), sandbox.path.clone()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = [
        "publish",
        "--workspaces",
        "--registry",
        &url,
        "--sigstore",
        "local",
        "--access",
        "public",
        "--trusted-root-out",
        "root.json",
        "--json",
        "mono",
    ];
    let out = run_in(work, &args, &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert!(se.contains("with `pnpm pack`"), "{se}");
    assert!(se.contains("1. @mono/core@1.2.3\n  2. @mono/util@0.3.0\n  3. @mono/app@2.0.0"), "{se}");
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert_eq!(result["succeeded"], 3, "{result}");
    let published: BTreeMap<String, String> = result["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["integrity"].as_str().unwrap().to_owned()))
        .collect();

    // The uploads: app last, each with its provenance, all under one certificate.
    let puts = registry.put_requests();
    let paths: Vec<&str> = puts.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths.len(), 3);
    assert_eq!(paths[2], "/@mono%2fapp", "{paths:?}");
    let mut certificates = Vec::new();
    for put in &puts {
        let body = put.json().unwrap();
        let name = body["name"].as_str().unwrap().to_owned();
        let version = body["versions"].as_object().unwrap().keys().next().unwrap().clone();
        let bundle: Value =
            serde_json::from_str(body["_attachments"][format!("{name}-{version}.sigstore")]["data"].as_str().unwrap())
                .unwrap();
        certificates.push(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap().to_owned());
        // The signed subject is the tarball uploaded, which pnpm packed.
        let tgz = base64::engine::general_purpose::STANDARD
            .decode(body["_attachments"][format!("{name}-{version}.tgz")]["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(sri_sha512(&tgz), published[&name]);
        let dir = root.join("packages").join(name.trim_start_matches("@mono/"));
        let theirs = own_pack(&sandbox, "pnpm", &dir, &work.join(format!("own-{}", name.replace('/', "-"))));
        assert_same_tarball(
            "pnpm",
            &theirs,
            &tgz,
            &format!("{name}: the signed tarball is not what `pnpm pack` writes"),
        );
        let statement: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(statement["subject"][0]["digest"]["sha512"], hex::encode(sha2::Sha512::digest(&tgz)));
    }
    certificates.dedup();
    assert_eq!(certificates.len(), 1, "one certificate for the whole batch");

    // npm installs the dependent package from the stand-in, with our integrity.
    let consumer = work.join("consumer");
    write_json(
        &consumer.join("package.json"),
        &json!({"name": "consumer", "version": "1.0.0", "private": true, "dependencies": {"@mono/app": "2.0.0"}}),
    );
    registry_config(&consumer, "npm", &url, work);
    sandbox.run(&consumer, "npm", &["install"]);
    let lock = read_json(&consumer.join("package-lock.json"));
    for (name, version) in NAMES {
        let entry = &lock["packages"][format!("node_modules/{name}")];
        assert_eq!(entry["version"], version, "{lock}");
        assert_eq!(entry["integrity"].as_str(), Some(published[name].as_str()), "{lock}");
        assert!(entry["resolved"].as_str().unwrap().starts_with(url.trim_end_matches('/')), "{entry}");
    }
    let ran = sandbox.run(&consumer, "node", &["-p", "require('@mono/app')"]);
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "app+dist+util");

    // Every installed package verifies from the registry: its provenance names this tarball
    // and the repository its package.json declares.
    let verify = run_in(
        work,
        &[
            "verify",
            "--registry",
            &url,
            "--lockfile",
            consumer.join("package-lock.json").to_str().unwrap(),
            "--trusted-root",
            "root.json",
        ],
        &env,
    );
    let (so, se) = (stdout(&verify), stderr(&verify));
    assert!(verify.status.success(), "{so}\n{se}");
    assert!(so.contains("3 packages: 3 verified"), "{so}");
    let one = run_in(
        work,
        &["verify", "--registry", &url, "@mono/app@2.0.0", "--repository", "octo/hello", "--trusted-root", "root.json"],
        &env,
    );
    assert!(one.status.success(), "{}", stderr(&one));
    assert!(stdout(&one).contains("verified: pkg:npm/%40mono/app@2.0.0"), "{}", stdout(&one));

    // A second run publishes nothing, signs nothing, and says so.
    let again = run_in(work, &args, &env);
    let (so, se) = (stdout(&again), stderr(&again));
    assert!(again.status.success(), "{so}\n{se}");
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    assert!(result["packages"].as_array().unwrap().iter().all(|p| p["skipped"] == true), "{result}");
    assert!(se.contains("Nothing to publish"), "{se}");
    assert!(!se.contains("Signed provenance"), "{se}");
    assert_eq!(registry.put_requests().len(), 3, "nothing more was uploaded");
}

/// changesets 3's publish plan decides each package's dist-tag and access (what
/// `changeset publish --from-pack-dir` passes to npm as `--tag` and `--access`): each package
/// is published with its own, as the registry's recorded PUTs show; an entry without them
/// gets the run's defaults; `--tag` or `--access` on the command line is refused, as changesets
/// refuses a custom tag in artifact mode; a plan restricting an unscoped package is refused
/// with the fix in the plan's terms.
#[test]
fn a_publish_plan_gives_each_package_its_own_dist_tag_and_access() {
    use crate::publish::{make_tarball, manifest};
    use crate::registry::{RegistryConfig, RegistryStandin};

    const TOKEN: &str = "npm_plan_t0ken";
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let registry = RegistryStandin::start(RegistryConfig { tokens: vec![TOKEN.into()], ..RegistryConfig::default() });
    let pack = work.join("pack");
    let packages = pack.join("packages");
    std::fs::create_dir_all(&packages).unwrap();
    let sri256 = |p: &Path| {
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
        )
    };
    let entry = |name: &str, version: &str, settings: Value| {
        let file = format!("{}-{version}.tgz", name.trim_start_matches('@').replace('/', "-"));
        let mut m = manifest(name, version, None);
        if name == "@octo/app" {
            m["dependencies"] = json!({"@octo/core": "^1.0.0"});
        }
        let tgz = make_tarball(&packages, &file, &m);
        let mut e = json!({"kind": "publish", "name": name, "version": version,
                           "tarball": {"path": format!("packages/{file}"), "integrity": sri256(&tgz)}});
        for (k, v) in settings.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    };
    let write_plan = |plan: Value| std::fs::write(pack.join("publish-plan.json"), plan.to_string()).unwrap();
    write_plan(json!({"version": 1, "plan": [
        [entry("@octo/core", "1.0.0", json!({"tag": "latest", "access": "public"})),
         entry("@octo/internal", "0.4.0-beta.1", json!({"tag": "beta", "access": "restricted"}))],
        [entry("@octo/app", "2.0.0-next.0", json!({"tag": "next", "access": "public"})),
         entry("plain-tool", "3.1.0", json!({}))],
    ]}));
    let env = [("NODE_AUTH_TOKEN", TOKEN), ("HOME", work.to_str().unwrap())];
    let url = registry.url();
    let publish = |extra: &[&str]| {
        let mut args = vec!["publish", "--registry", url.as_str(), "--no-provenance", "--from-pack-dir", "pack"];
        args.extend(extra);
        run_in(work, &args, &env)
    };

    // The plan decides; the command line may not disagree with it.
    for flag in [["--tag", "canary"], ["--access", "public"]] {
        let out = publish(&flag);
        let se = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{se}");
        assert!(se.contains(&format!("error: {} cannot be used with --from-pack-dir", flag[0])), "{se}");
        assert!(registry.requests().is_empty(), "nothing was asked of the registry");
    }

    let out = publish(&[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let sent: BTreeMap<String, Value> = registry
        .put_requests()
        .iter()
        .map(|p| {
            let body = p.json().unwrap();
            (body["name"].as_str().unwrap().to_owned(), json!([body["dist-tags"], body["access"]]))
        })
        .collect();
    assert_eq!(
        sent,
        BTreeMap::from([
            ("@octo/core".to_owned(), json!([{"latest": "1.0.0"}, "public"])),
            ("@octo/internal".to_owned(), json!([{"beta": "0.4.0-beta.1"}, "restricted"])),
            ("@octo/app".to_owned(), json!([{"next": "2.0.0-next.0"}, "public"])),
            // No tag or access in its entry: the run's (npm's defaults: latest, access unset).
            ("plain-tool".to_owned(), json!([{"latest": "3.1.0"}, null])),
        ])
    );
    assert_eq!(registry.packument("@octo/internal").unwrap()["dist-tags"], json!({"beta": "0.4.0-beta.1"}));
    assert!(stderr(&out).contains("Published @octo/app@2.0.0-next.0 to") && stderr(&out).contains("with tag next"));

    // A plan restricting an unscoped package (changesets' default `access`) is refused, with
    // the fix where the value comes from.
    write_plan(
        json!({"version": 1, "plan": [[entry("other-tool", "1.0.0", json!({"tag": "latest", "access": "restricted"}))]]}),
    );
    let out = publish(&[]);
    let (so, se) = (stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(0), "{so}\n{se}");
    assert!(so.contains("cannot restrict access to the unscoped package other-tool"), "{so}");
    assert!(so.contains("publish-plan.json gives it access \"restricted\""), "{so}");

    // An entry's settings are for the package it names: a tarball holding another is refused.
    let mut swapped = entry("renamed-tool", "1.0.0", json!({"tag": "latest", "access": "public"}));
    swapped["name"] = json!("expected-tool");
    write_plan(json!({"version": 1, "plan": [[swapped]]}));
    let out = publish(&[]);
    let so = stdout(&out);
    assert_ne!(out.status.code(), Some(0), "{so}");
    assert!(so.contains("holds renamed-tool@1.0.0, but") && so.contains("lists it as expected-tool@1.0.0"), "{so}");
    assert_eq!(registry.put_requests().len(), 4, "nothing more was uploaded");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `--git-tag` makes changesets' tags, annotated, `<name>@<version>`, for what was published,
/// leaves an existing one alone, and runs git without our credentials (a
/// `reference-transaction` hook, which git runs for every tag it writes, records git's
/// environment). Where no tag can be made, the versions stay published and the error says so,
/// naming the commands that make the tags.
#[test]
fn git_tag_tags_what_was_published_without_our_credentials_and_a_failure_unpublishes_nothing() {
    use crate::publish::{make_tarball, manifest};
    use crate::registry::{RegistryConfig, RegistryStandin};

    const TOKEN: &str = "npm_git_tag_t0ken_5ecr3t";
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Release Bot"]);
    git(&repo, &["config", "user.email", "release@example.com"]);
    make_tarball(&repo, "core.tgz", &manifest("@octo/core", "1.0.0", None));
    make_tarball(&repo, "app.tgz", &manifest("octo-app", "2.0.0", None));
    make_tarball(&repo, "cli.tgz", &manifest("octo-cli", "0.1.0", None));
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "release"]);
    // A tag from an earlier, interrupted run: left alone.
    git(&repo, &["tag", "octo-cli@0.1.0"]);
    let dump = work.path().join("git-env");
    write(&repo.join(".git/hooks/reference-transaction"), &format!("#!/bin/sh\nenv >> '{}'\n", dump.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(repo.join(".git/hooks/reference-transaction"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }

    let registry = RegistryStandin::start(RegistryConfig { tokens: vec![TOKEN.into()], ..RegistryConfig::default() });
    let url = registry.url();
    let secrets = [
        ("NODE_AUTH_TOKEN", TOKEN),
        ("GITHUB_TOKEN", "ghs_git_tag_5ecr3t"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request_git_tag_5ecr3t"),
        ("NPM_ID_TOKEN", "npm_id_git_tag_5ecr3t"),
    ];
    let home = work.path().display().to_string();
    let mut env: Vec<(&str, &str)> = secrets.to_vec();
    env.extend([("HOME", home.as_str()), ("GIT_CONFIG_NOSYSTEM", "1"), ("VISIBLE_MARKER", "kept-for-git")]);
    let args =
        ["publish", "--registry", url.as_str(), "--no-provenance", "--git-tag", "core.tgz", "app.tgz", "cli.tgz"];
    let out = run_in(&repo, &args, &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    assert!(se.contains("Created git tag @octo/core@1.0.0") && se.contains("Created git tag octo-app@2.0.0"), "{se}");
    assert!(se.contains("Git tag octo-cli@0.1.0 exists already"), "{se}");
    let tags: Vec<String> = git(&repo, &["tag", "--list"]).lines().map(str::to_owned).collect();
    assert_eq!(tags, vec!["@octo/core@1.0.0", "octo-app@2.0.0", "octo-cli@0.1.0"]);
    // Annotated, as changesets makes them (`git push --follow-tags` pushes only those), on HEAD.
    assert_eq!(git(&repo, &["cat-file", "-t", "octo-app@2.0.0"]).trim(), "tag");
    assert_eq!(git(&repo, &["cat-file", "-t", "octo-cli@0.1.0"]).trim(), "commit", "the existing tag was left alone");
    assert_eq!(git(&repo, &["rev-parse", "@octo/core@1.0.0^{commit}"]), git(&repo, &["rev-parse", "HEAD"]));
    let seen = std::fs::read_to_string(&dump).expect("the hook ran");
    assert!(seen.contains("VISIBLE_MARKER=kept-for-git"), "ordinary variables reach git");
    for (name, value) in secrets {
        assert!(!seen.contains(value), "{name} reached git's hook");
    }

    // Outside a git repository no tag can be made: the versions are published all the same,
    // and the error says so.
    let elsewhere = work.path().join("not-a-repo");
    std::fs::create_dir_all(&elsewhere).unwrap();
    make_tarball(&elsewhere, "lib.tgz", &manifest("octo-lib", "1.0.0", None));
    let ceiling = work.path().display().to_string();
    env.push(("GIT_CEILING_DIRECTORIES", ceiling.as_str()));
    let out =
        run_in(&elsewhere, &["publish", "--registry", url.as_str(), "--no-provenance", "--git-tag", "lib.tgz"], &env);
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(3), "{so}\n{se}");
    assert!(se.contains("Published octo-lib@1.0.0 to"), "{se}");
    assert!(so.contains("New tag: octo-lib@1.0.0"), "{so}");
    assert!(
        se.contains("error: published, but could not create git tag octo-lib@1.0.0: fatal: not a git repository"),
        "{se}"
    );
    assert!(se.contains("the versions are on the registry and stay there"), "{se}");
    assert!(se.contains("git tag octo-lib@1.0.0 -m octo-lib@1.0.0"), "{se}");
    assert!(registry.packument("octo-lib").unwrap()["versions"]["1.0.0"].is_object(), "still published");
    assert!(!registry.requests().iter().any(|(m, _)| m == "DELETE"), "nothing was unpublished");
}

/// `npm-attest attest --dry-run DIR --json` with the package managers on PATH: the signed
/// tarball (as bytes) and the result object.
fn attest_dir(sandbox: &Sandbox, cwd: &Path, dir: &Path, out_dir: &Path) -> (Vec<u8>, Value, String) {
    let args = ["attest", "--dry-run", dir.to_str().unwrap(), "--output-dir", out_dir.to_str().unwrap(), "--json"];
    let out = run_in(cwd, &args, &[("GITHUB_ACTIONS", "true"), ("PATH", sandbox.path.as_str())]);
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{so}\n{se}");
    let result: Value = serde_json::from_str(so.lines().last().unwrap()).unwrap();
    let tgz = std::fs::read_dir(out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .expect("a tarball");
    (std::fs::read(tgz).unwrap(), result, se)
}

/// pnpm publishes `publishConfig.directory` (a build output with its own package.json) instead
/// of the package directory: the tarball npm-attest signs is `pnpm pack`'s, byte for byte,
/// holding that directory only, with its `workspace:` dependency resolved.
#[test]
fn pnpm_publish_config_directory_is_signed_as_pnpm_packs_it() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let sandbox = Sandbox::new(work);
    let root = work.join("mono");
    monorepo(&root, "pnpm", "octo/hello", false);
    let built = root.join("packages/built");
    let deps = json!({"@mono/core": "workspace:^"});
    write_json(
        &built.join("package.json"),
        &json!({"name": "@mono/built", "version": "0.5.0", "license": "MIT", "main": "src/index.ts",
                "dependencies": deps, "publishConfig": {"directory": "dist"}}),
    );
    write(&built.join("src/index.ts"), "export default 'source';\n");
    write_json(
        &built.join("dist/package.json"),
        &json!({"name": "@mono/built", "version": "0.5.0", "license": "MIT", "main": "index.js", "dependencies": deps}),
    );
    write(&built.join("dist/index.js"), "module.exports = 'built';\n");
    sandbox.run(&root, "pnpm", &["install", "--offline", "--no-frozen-lockfile"]);

    let theirs = own_pack(&sandbox, "pnpm", &built, &work.join("theirs"));
    let (ours, result, se) = attest_dir(&sandbox, &root, &built, &work.join("ours"));
    assert_same_tarball("pnpm", &theirs, &ours, "the signed tarball is not the one `pnpm pack` writes");
    assert!(!se.contains("publishConfig.directory"), "no warning for pnpm: {se}");
    assert_eq!(result["subject"]["sha512"], hex::encode(sha2::Sha512::digest(&ours)));
    let entries = tar_entries(&ours);
    assert_eq!(entries.keys().collect::<Vec<_>>(), vec!["index.js", "package.json"], "dist/ only");
    let manifest: Value = serde_json::from_slice(&entries["package.json"]).unwrap();
    assert_eq!(manifest["dependencies"], json!({"@mono/core": "^1.2.3"}));
    assert_eq!(manifest["main"], "index.js");
}

/// npm (like Yarn and Bun) ignores `publishConfig.directory` and packs the package directory:
/// so does npm-attest, byte for byte, and it says so with the way to publish the subdirectory.
#[test]
fn npm_ignores_publish_config_directory_and_so_do_we_with_a_warning() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let sandbox = Sandbox::new(work);
    let pkg = work.join("pkg");
    write_json(
        &pkg.join("package.json"),
        &json!({"name": "dir-probe", "version": "1.0.0", "license": "MIT", "publishConfig": {"directory": "dist"}}),
    );
    write(&pkg.join("index.js"), "module.exports = 'src';\n");
    write_json(&pkg.join("dist/package.json"), &json!({"name": "dir-probe", "version": "1.0.0"}));
    write(&pkg.join("dist/index.js"), "module.exports = 'dist';\n");
    let theirs = own_pack(&sandbox, "npm", &pkg, &work.join("theirs"));
    let (ours, _, se) = attest_dir(&sandbox, work, &pkg, &work.join("ours"));
    assert_same_tarball("npm", &theirs, &ours, "the signed tarball is not the one `npm pack` writes");
    assert!(tar_entries(&ours).contains_key("dist/index.js") && tar_entries(&ours).contains_key("index.js"));
    assert!(se.contains("publishConfig.directory \"dist\" is ignored, as `npm pack` ignores it"), "{se}");
    assert!(se.contains(&format!("pass it as the package ({})", pkg.join("dist").display())), "{se}");
}

/// As npm reads it, a package's `publishConfig.tag` and `publishConfig.access` apply below the
/// command line: each package of a batch goes out with its own, and `--tag`/`--access` given
/// explicitly win over them (the registry's recorded PUTs show what was sent).
#[test]
fn publish_config_tag_and_access_apply_per_package_below_the_command_line() {
    use crate::publish::{make_tarball, manifest};
    use crate::registry::{RegistryConfig, RegistryStandin};

    const TOKEN: &str = "npm_publish_config_t0ken";
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let registry = RegistryStandin::start(RegistryConfig { tokens: vec![TOKEN.into()], ..RegistryConfig::default() });
    let tarball = |file: &str, name: &str, version: &str, publish_config: Option<Value>| {
        let mut m = manifest(name, version, None);
        if let Some(pc) = publish_config {
            m["publishConfig"] = pc;
        }
        make_tarball(work, file, &m);
        file.to_owned()
    };
    let env = [("NODE_AUTH_TOKEN", TOKEN), ("HOME", work.to_str().unwrap())];
    let url = registry.url();
    let publish = |extra: &[&str], files: &[String]| {
        let mut args = vec!["publish", "--registry", url.as_str(), "--no-provenance"];
        args.extend(extra);
        args.extend(files.iter().map(String::as_str));
        let out = run_in(work, &args, &env);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    };
    let sent = |name: &str, version: &str| {
        let put = registry
            .put_requests()
            .into_iter()
            .map(|p| p.json().unwrap())
            .find(|b| b["name"] == name && b["versions"][version].is_object())
            .unwrap_or_else(|| panic!("no PUT of {name}@{version}"));
        json!([put["dist-tags"], put["access"]])
    };

    let first = [
        tarball("a1.tgz", "@octo/configured", "1.0.0-rc.1", Some(json!({"tag": "next", "access": "public"}))),
        tarball("b1.tgz", "@octo/plain", "1.0.0", None),
    ];
    publish(&[], &first);
    assert_eq!(sent("@octo/configured", "1.0.0-rc.1"), json!([{"next": "1.0.0-rc.1"}, "public"]));
    assert_eq!(sent("@octo/plain", "1.0.0"), json!([{"latest": "1.0.0"}, null]));

    // The command line wins, for both.
    let second = [
        tarball("a2.tgz", "@octo/configured", "1.0.0-rc.2", Some(json!({"tag": "next", "access": "public"}))),
        tarball("b2.tgz", "@octo/plain", "1.0.1", None),
    ];
    publish(&["--tag", "canary", "--access", "restricted"], &second);
    assert_eq!(sent("@octo/configured", "1.0.0-rc.2"), json!([{"canary": "1.0.0-rc.2"}, "restricted"]));
    assert_eq!(sent("@octo/plain", "1.0.1"), json!([{"canary": "1.0.1"}, "restricted"]));
}
