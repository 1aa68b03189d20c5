//! The GitHub Action (`action.yml`, `dist/`), run the way the Actions runner runs a composite
//! action: `action.yml` is parsed, each step's `${{ ... }}` expressions are substituted (inputs
//! with their defaults, `github.*`, `runner.*`, `steps.<id>.outputs.*`), its `env:` is set, and
//! its `run:` script is written to a file and run with `bash --noprofile --norc -eo pipefail`, in
//! a simulated runner environment (`GITHUB_*` and `RUNNER_*` variables, per-step
//! `GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY` files, a local stand-in for the OIDC token endpoint and
//! for the attestations API). The launcher is pointed at the binary cargo built through
//! `NPM_ATTEST_BINARY`.
//!
//! Also here: the launcher's checksum refusal and source fallback, and zizmor on the action and
//! every workflow.

// Test helpers panic on purpose: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_norway::Value as Yaml;

use crate::fake_http::{FakeServer, Request, Response};
use crate::registry::{RegistryConfig, RegistryStandin, TrustedPublisher};
use crate::support::{bin, repo_root};

// ---------------------------------------------------------------------------------------------
// A composite-action runner.

/// The contexts expressions read.
#[derive(Debug, Clone, Default)]
struct Contexts {
    inputs: BTreeMap<String, String>,
    github: BTreeMap<String, String>,
    runner: BTreeMap<String, String>,
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

impl Contexts {
    /// Evaluates one expression. Only the forms the action uses are supported; anything else
    /// fails the test, so a new form in action.yml gets support here first.
    fn eval(&self, expr: &str) -> String {
        let expr = expr.trim();
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self.inputs.get(*name).cloned().unwrap_or_default(),
            ["github", name] => {
                self.github.get(*name).cloned().unwrap_or_else(|| panic!("unknown github context {name}"))
            }
            ["runner", name] => {
                self.runner.get(*name).cloned().unwrap_or_else(|| panic!("unknown runner context {name}"))
            }
            // A missing step output is the empty string, as on the runner.
            ["steps", id, "outputs", name] => {
                self.steps.get(*id).and_then(|o| o.get(*name)).cloned().unwrap_or_default()
            }
            _ => panic!("expression not supported by the test runner: {expr}"),
        }
    }

    /// Substitutes every `${{ expr }}` in `text`.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").map(|e| start + e).expect("unterminated expression");
            out.push_str(&self.eval(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

fn yaml_str(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn action_yml() -> Yaml {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Parses a `GITHUB_OUTPUT` file as the runner does: `name=value` lines and
/// `name<<DELIMITER` ... `DELIMITER` blocks.
fn parse_output_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value: Vec<&str> = Vec::new();
            let mut closed = false;
            for l in lines.by_ref() {
                if l == delim {
                    closed = true;
                    break;
                }
                value.push(l);
            }
            assert!(closed, "unterminated heredoc for output {name}");
            out.insert(name.to_owned(), value.join("\n"));
        } else {
            let (name, value) = line.split_once('=').unwrap_or_else(|| panic!("invalid output line {line:?}"));
            out.insert(name.to_owned(), value.to_owned());
        }
    }
    out
}

struct StepRun {
    id: String,
    code: i32,
    stdout: String,
    stderr: String,
}

struct ActionRun {
    steps: Vec<StepRun>,
    /// The action's outputs, from `outputs.*.value`.
    outputs: BTreeMap<String, String>,
    /// The job summary: every step's summary file, concatenated.
    summary: String,
}

impl ActionRun {
    fn success(&self) -> bool {
        self.steps.iter().all(|s| s.code == 0)
    }
    fn stdout(&self) -> String {
        self.steps.iter().map(|s| s.stdout.as_str()).collect::<Vec<_>>().join("")
    }
    fn stderr(&self) -> String {
        self.steps.iter().map(|s| s.stderr.as_str()).collect::<Vec<_>>().join("")
    }
    fn log(&self) -> String {
        let mut text = String::new();
        for s in &self.steps {
            text.push_str(&format!(
                "--- step {} exit {}\nstdout:\n{}\nstderr:\n{}\n",
                s.id, s.code, s.stdout, s.stderr
            ));
        }
        text
    }
}

/// A simulated runner: a workspace, runner directories and the environment the runner gives
/// each step.
struct Runner {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
    github_token: String,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        for d in ["workspace", "temp", "tool-cache", "home"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let p = |d: &str| dir.path().join(d).display().to_string();
        let mut env = BTreeMap::new();
        env.insert("PATH".to_owned(), std::env::var("PATH").unwrap_or_default());
        env.insert("HOME".to_owned(), p("home"));
        env.insert("CI".to_owned(), "true".to_owned());
        env.insert("GITHUB_ACTIONS".to_owned(), "true".to_owned());
        env.insert("GITHUB_ACTION_PATH".to_owned(), repo_root().display().to_string());
        env.insert("GITHUB_WORKSPACE".to_owned(), p("workspace"));
        env.insert("GITHUB_REPOSITORY".to_owned(), "octo-org/hello".to_owned());
        env.insert("GITHUB_REPOSITORY_ID".to_owned(), "101".to_owned());
        env.insert("GITHUB_REPOSITORY_OWNER".to_owned(), "octo-org".to_owned());
        env.insert("GITHUB_REPOSITORY_OWNER_ID".to_owned(), "202".to_owned());
        env.insert("GITHUB_SERVER_URL".to_owned(), "https://github.com".to_owned());
        env.insert("GITHUB_API_URL".to_owned(), "http://127.0.0.1:9".to_owned());
        env.insert(
            "GITHUB_WORKFLOW_REF".to_owned(),
            "octo-org/hello/.github/workflows/release.yml@refs/tags/v1.0.0".to_owned(),
        );
        env.insert("GITHUB_REF".to_owned(), "refs/tags/v1.0.0".to_owned());
        env.insert("GITHUB_SHA".to_owned(), "0123456789abcdef0123456789abcdef01234567".to_owned());
        env.insert("GITHUB_EVENT_NAME".to_owned(), "release".to_owned());
        env.insert("GITHUB_RUN_ID".to_owned(), "4242".to_owned());
        env.insert("GITHUB_RUN_ATTEMPT".to_owned(), "1".to_owned());
        env.insert("RUNNER_ENVIRONMENT".to_owned(), "github-hosted".to_owned());
        env.insert("RUNNER_OS".to_owned(), "Linux".to_owned());
        env.insert("RUNNER_ARCH".to_owned(), "X64".to_owned());
        env.insert("RUNNER_TEMP".to_owned(), p("temp"));
        env.insert("RUNNER_TOOL_CACHE".to_owned(), p("tool-cache"));
        // The launcher runs the binary cargo built for this test run.
        env.insert("NPM_ATTEST_BINARY".to_owned(), bin().display().to_string());
        Runner { dir, env, github_token: "ghs_fakeGitHubToken0123456789".to_owned() }
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    fn set(&mut self, key: &str, value: &str) {
        self.env.insert(key.to_owned(), value.to_owned());
    }

    /// Runs the composite action with `inputs` (defaults from action.yml for the rest).
    fn run(&self, inputs: &[(&str, &str)]) -> ActionRun {
        let action = action_yml();
        assert_eq!(yaml_str(&action["runs"]["using"]), "composite");
        let mut ctx = Contexts::default();
        ctx.github.insert("token".to_owned(), self.github_token.clone());
        ctx.github.insert("action_path".to_owned(), repo_root().display().to_string());
        ctx.github.insert("workspace".to_owned(), self.workspace().display().to_string());
        ctx.runner.insert("os".to_owned(), self.env["RUNNER_OS"].clone());
        ctx.runner.insert("arch".to_owned(), self.env["RUNNER_ARCH"].clone());
        ctx.runner.insert("temp".to_owned(), self.env["RUNNER_TEMP"].clone());
        ctx.runner.insert("tool_cache".to_owned(), self.env["RUNNER_TOOL_CACHE"].clone());
        let declared = action["inputs"].as_mapping().unwrap();
        for (k, v) in declared {
            let default = v.get("default").map(yaml_str).unwrap_or_default();
            ctx.inputs.insert(yaml_str(k), ctx.substitute(&default));
        }
        for (k, v) in inputs {
            assert!(ctx.inputs.contains_key(*k), "action.yml has no input {k}");
            ctx.inputs.insert((*k).to_owned(), (*v).to_owned());
        }

        let mut steps = Vec::new();
        let mut summary = String::new();
        for (n, step) in action["runs"]["steps"].as_sequence().unwrap().iter().enumerate() {
            let id = step.get("id").map(yaml_str).unwrap_or_else(|| format!("step{n}"));
            assert!(step.get("if").is_none(), "the test runner does not evaluate `if:` (step {id})");
            assert!(step.get("uses").is_none(), "the test runner only runs `run:` steps (step {id})");
            assert_eq!(step.get("shell").map(yaml_str).as_deref(), Some("bash"), "step {id}");
            let script = ctx.substitute(&yaml_str(&step["run"]));
            let step_dir = self.dir.path().join(format!("step-{n}"));
            std::fs::create_dir_all(&step_dir).unwrap();
            let script_file = step_dir.join("script.sh");
            std::fs::write(&script_file, script).unwrap();
            let output_file = step_dir.join("output");
            let summary_file = step_dir.join("summary");
            std::fs::write(&output_file, "").unwrap();
            std::fs::write(&summary_file, "").unwrap();

            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&script_file);
            cmd.current_dir(self.workspace()).env_clear().envs(&self.env);
            cmd.env("GITHUB_OUTPUT", &output_file).env("GITHUB_STEP_SUMMARY", &summary_file);
            if let Some(env) = step.get("env").and_then(Yaml::as_mapping) {
                for (k, v) in env {
                    cmd.env(yaml_str(k), ctx.substitute(&yaml_str(v)));
                }
            }
            let out = cmd.output().expect("run bash");
            let outputs = parse_output_file(&std::fs::read_to_string(&output_file).unwrap());
            summary.push_str(&std::fs::read_to_string(&summary_file).unwrap());
            ctx.steps.insert(id.clone(), outputs);
            let code = out.status.code().unwrap_or(-1);
            steps.push(StepRun {
                id,
                code,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
            if code != 0 {
                break;
            }
        }
        let mut outputs = BTreeMap::new();
        for (k, v) in action["outputs"].as_mapping().unwrap() {
            outputs.insert(yaml_str(k), ctx.substitute(&yaml_str(&v["value"])));
        }
        ActionRun { steps, outputs, summary }
    }
}

// ---------------------------------------------------------------------------------------------
// Stand-ins: the runner's OIDC token endpoint and the attestations API.

/// An identity token as the Actions runtime would hand out (audience `sigstore`). Its signature
/// is from no key the stand-in knows; the stand-in accepts such tokens on their claims.
fn github_jwt(repository: &str) -> String {
    github_jwt_for(repository, "sigstore")
}

/// An identity token for `repository` with audience `audience` (`sigstore`, or `npm:<host>`
/// for npm trusted publishing).
fn github_jwt_for(repository: &str, audience: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "test"});
    let workflow = format!("{repository}/.github/workflows/release.yml@refs/tags/v1.0.0");
    let claims = serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": audience,
        "sub": format!("repo:{repository}:ref:refs/tags/v1.0.0"),
        "iat": now, "nbf": now, "exp": now + 600,
        "repository": repository, "repository_id": "101", "repository_owner": "octo-org",
        "repository_owner_id": "202", "repository_visibility": "public",
        "ref": "refs/tags/v1.0.0", "ref_type": "tag", "sha": "0123456789abcdef0123456789abcdef01234567",
        "workflow": "Release", "workflow_ref": workflow, "workflow_sha": "0123456789abcdef0123456789abcdef01234567",
        "job_workflow_ref": workflow, "job_workflow_sha": "0123456789abcdef0123456789abcdef01234567",
        "run_id": "4242", "run_number": "7", "run_attempt": "1", "runner_environment": "github-hosted",
        "event_name": "release", "actor": "octocat"
    });
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 256]);
    format!("{}.{}.{sig}", b64(&header), b64(&claims))
}

const REQUEST_TOKEN: &str = "runtime-request-token-5b1f";

/// The token endpoint: answers `{"value": jwt}` to a GET with the runtime bearer and an
/// `audience`; records the requests.
fn token_endpoint(jwt: String) -> (FakeServer, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = FakeServer::start(move |req: Request| {
        log.lock().unwrap().push(req.clone());
        if req.bearer() != Some(REQUEST_TOKEN) {
            return Response::json(401, &serde_json::json!({"message": "bad runtime token"}));
        }
        Response::json(200, &serde_json::json!({"count": 1, "value": jwt}))
    });
    (server, seen)
}

/// The token endpoint of a runtime that honours the requested `audience` (as the real one
/// does): `sigstore` for Fulcio, `npm:<registry host>` for trusted publishing. Records the
/// audiences asked for.
fn audience_token_endpoint(repository: &'static str) -> (FakeServer, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = FakeServer::start(move |req: Request| {
        if req.bearer() != Some(REQUEST_TOKEN) {
            return Response::json(401, &serde_json::json!({"message": "bad runtime token"}));
        }
        let audience = req.query("audience").unwrap_or_default();
        log.lock().unwrap().push(audience.clone());
        Response::json(200, &serde_json::json!({"count": 1, "value": github_jwt_for(repository, &audience)}))
    });
    (server, seen)
}

/// The attestations API: answers each POST with the next of `answers` (the last repeats).
fn attestations_api(answers: Vec<Response>) -> (FakeServer, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let server = FakeServer::start(move |req: Request| {
        let mut log = log.lock().unwrap();
        log.push(req);
        let n = (log.len() - 1).min(answers.len() - 1);
        answers[n].clone()
    });
    (server, seen)
}

/// A package directory `hello` with a scoped name in the runner's workspace.
fn write_package(runner: &Runner, dir_name: &str) -> PathBuf {
    let dir = runner.workspace().join(dir_name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"@octo-org/hello","version":"1.0.0","description":"test package","main":"index.js","repository":{"type":"git","url":"git+https://github.com/octo-org/hello.git"}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("index.js"), "module.exports = 'hello';\n").unwrap();
    dir
}

fn sha512_hex(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha512::digest(std::fs::read(path).unwrap()))
}

/// Wires the runner to the token endpoint and the attestations API.
fn signing_runner(token_url: &str, api_url: &str) -> Runner {
    let mut runner = Runner::new();
    // The runtime's URL carries a query already; clients append `&audience=...`.
    runner.set("ACTIONS_ID_TOKEN_REQUEST_URL", &format!("{token_url}/_apis/distributedtask/token?api-version=2.0"));
    runner.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN);
    runner.set("GITHUB_API_URL", api_url);
    runner
}

// ---------------------------------------------------------------------------------------------
// End to end.

#[cfg(unix)]
#[test]
fn action_attests_uploads_and_reports_like_the_runner_expects() {
    let jwt = github_jwt("octo-org/hello");
    let (token_server, token_requests) = token_endpoint(jwt.clone());
    let (api, api_requests) = attestations_api(vec![Response::json(201, &serde_json::json!({"id": 9001}))]);
    let runner = signing_runner(&token_server.url, &api.url);
    write_package(&runner, "hello");

    let run = runner.run(&[("path", "hello"), ("sigstore", "local"), ("upload-to-github", "true")]);
    assert!(run.success(), "{}", run.log());

    // Outputs.
    let o = &run.outputs;
    let bundle_path = PathBuf::from(&o["bundle-path"]);
    let bundle_text =
        std::fs::read_to_string(&bundle_path).unwrap_or_else(|e| panic!("{bundle_path:?}: {e}\n{}", run.log()));
    let bundle: serde_json::Value = serde_json::from_str(&bundle_text).unwrap();
    assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(o["subject-name"], "pkg:npm/%40octo-org/hello@1.0.0");
    let tarball = PathBuf::from(&o["tarball"]);
    assert_eq!(o["subject-digest"], format!("sha512:{}", sha512_hex(&tarball)));
    let log_index: u64 = o["log-index"].parse().unwrap_or_else(|_| panic!("log-index {:?}", o["log-index"]));
    assert!(o["transparency-log-url"].contains(&format!("logIndex={log_index}")), "{}", o["transparency-log-url"]);
    assert_eq!(o["attestation-id"], "9001");
    assert_eq!(o["attestation-url"], "https://github.com/octo-org/hello/attestations/9001");

    // The bundle is listed for later steps, as actions/attest does.
    let listed =
        std::fs::read_to_string(Path::new(&runner.env["RUNNER_TEMP"]).join("created_attestation_paths.txt")).unwrap();
    assert_eq!(listed, format!("{}\n", bundle_path.display()));

    // The token endpoint got the runtime bearer and the sigstore audience.
    let token_requests = token_requests.lock().unwrap();
    assert!(!token_requests.is_empty());
    for r in token_requests.iter() {
        assert_eq!(r.bearer(), Some(REQUEST_TOKEN));
        assert_eq!(r.query("audience").as_deref(), Some("sigstore"));
        assert_eq!(r.query("api-version").as_deref(), Some("2.0"));
    }

    // The attestations API got the bundle, as JSON, with the workflow's token.
    let api_requests = api_requests.lock().unwrap();
    assert_eq!(api_requests.len(), 1);
    let post = &api_requests[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.path_only(), "/repos/octo-org/hello/attestations");
    assert_eq!(post.bearer(), Some(runner.github_token.as_str()));
    assert_eq!(post.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(post.json().unwrap(), serde_json::json!({ "bundle": bundle }));

    // Every token is masked, and appears nowhere else in the log (the runtime's request token
    // may only appear in a mask command too).
    let stdout = run.stdout();
    let all = format!("{stdout}{}", run.stderr());
    for secret in [jwt.as_str(), runner.github_token.as_str(), REQUEST_TOKEN] {
        let mask = format!("::add-mask::{secret}");
        if secret != REQUEST_TOKEN {
            assert!(stdout.lines().any(|l| l == mask), "no mask for a token:\n{}", run.log());
        }
        assert_eq!(all.matches(secret).count(), all.matches(&mask).count(), "a token leaked:\n{}", run.log());
        assert!(!bundle_text.contains(secret));
    }

    // The job summary.
    let s = &run.summary;
    assert!(s.contains("@octo-org/hello@1.0.0"), "{s}");
    assert!(s.contains(&o["subject-digest"]), "{s}");
    assert!(s.contains("https://github.com/octo-org/hello/.github/workflows/release.yml@refs/tags/v1.0.0"), "{s}");
    assert!(s.contains(&format!("log index {log_index}")), "{s}");
    assert!(s.contains("| Verification | ✅ verified"), "{s}");
    assert!(s.contains("https://github.com/octo-org/hello/attestations/9001"), "{s}");
    // The verification command the summary shows works as written.
    let command = s.split("```sh\n").nth(1).and_then(|c| c.split("\n```").next()).unwrap_or_else(|| panic!("{s}"));
    assert!(command.starts_with("npm-attest verify --bundle "), "{command}");
    assert!(command.contains("--trusted-root "), "{command}");
    let verified = Command::new("bash")
        .args([
            "--noprofile",
            "--norc",
            "-c",
            &format!("\"$NPM_ATTEST\" {}", command.trim_start_matches("npm-attest ")),
        ])
        .env("NPM_ATTEST", bin())
        .output()
        .unwrap();
    assert!(verified.status.success(), "{command}: {}", String::from_utf8_lossy(&verified.stderr));
}

#[cfg(unix)]
#[test]
fn action_explains_a_missing_attestations_permission() {
    let (token_server, _) = token_endpoint(github_jwt("octo-org/hello"));
    let (api, api_requests) = attestations_api(vec![Response::json(
        403,
        &serde_json::json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"}),
    )]);
    let runner = signing_runner(&token_server.url, &api.url);
    write_package(&runner, "hello");
    let run = runner.run(&[("path", "hello"), ("sigstore", "local"), ("upload-to-github", "true")]);
    assert!(!run.success());
    let step = &run.steps[0];
    assert_eq!(step.code, 3, "{}", run.log());
    // A 403 is not retried.
    assert_eq!(api_requests.lock().unwrap().len(), 1);
    let error =
        step.stdout.lines().find(|l| l.starts_with("::error title=")).unwrap_or_else(|| panic!("{}", run.log()));
    assert!(error.contains("Resource not accessible by integration"), "{error}");
    assert!(error.contains("attestations: write"), "{error}");
    assert!(error.contains(".github/workflows/release.yml"), "{error}");
    // The bundle was still written and reported before the upload failed.
    assert!(Path::new(&run.outputs["bundle-path"]).is_file(), "{}", run.log());
    assert_eq!(run.outputs["attestation-id"], "");
}

#[cfg(unix)]
#[test]
fn action_explains_a_missing_id_token_permission() {
    // No ACTIONS_ID_TOKEN_REQUEST_URL: the job lacks `id-token: write`. Signing against
    // public-good fails before anything is packed or sent.
    let runner = Runner::new();
    write_package(&runner, "hello");
    let run = runner.run(&[("path", "hello")]);
    assert!(!run.success());
    assert_eq!(run.steps[0].code, 3, "{}", run.log());
    let error = run.steps[0]
        .stdout
        .lines()
        .find(|l| l.starts_with("::error title=npm-attest attest::"))
        .unwrap_or_else(|| panic!("{}", run.log()));
    assert!(error.contains("id-token: write"), "{error}");
    assert!(!run.steps[0].stderr.contains("Packing"), "{}", run.log());
    assert_eq!(run.outputs["bundle-path"], "");
}

#[cfg(unix)]
#[test]
fn action_refuses_a_bundle_that_does_not_verify_for_this_repository() {
    // The runner's token names another repository than GITHUB_REPOSITORY: the certificate
    // does not match the repository the job runs for, so the bundle is neither stored nor
    // published, and the summary says why.
    let (token_server, _) = token_endpoint(github_jwt("someone-else/impostor"));
    let (api, api_requests) = attestations_api(vec![Response::json(201, &serde_json::json!({"id": 1}))]);
    let runner = signing_runner(&token_server.url, &api.url);
    write_package(&runner, "hello");
    let run =
        runner.run(&[("path", "hello"), ("sigstore", "local"), ("upload-to-github", "true"), ("publish", "true")]);
    assert!(!run.success());
    assert_eq!(run.steps.len(), 1, "the publish step ran:\n{}", run.log());
    assert_eq!(run.steps[0].code, 1, "{}", run.log());
    assert!(
        run.steps[0].stdout.contains("::error title=npm-attest attest::the new bundle does not verify"),
        "{}",
        run.log()
    );
    assert!(api_requests.lock().unwrap().is_empty(), "a bundle that does not verify was uploaded");
    assert!(run.summary.contains("| Verification | ❌ failed: "), "{}", run.summary);
    assert!(run.summary.contains("someone-else/impostor"), "{}", run.summary);
}

#[cfg(unix)]
#[test]
fn action_retries_a_server_error_then_succeeds() {
    let (token_server, _) = token_endpoint(github_jwt("octo-org/hello"));
    let (api, api_requests) = attestations_api(vec![
        Response::json(502, &serde_json::json!({"message": "Server Error"})),
        Response::json(201, &serde_json::json!({"id": 77})),
    ]);
    let mut runner = signing_runner(&token_server.url, &api.url);
    // With the runner's debug logging on, the API log is folded into a group.
    runner.set("RUNNER_DEBUG", "1");
    write_package(&runner, "hello");
    let run = runner.run(&[("path", "hello"), ("sigstore", "local"), ("upload-to-github", "true")]);
    assert!(run.success(), "{}", run.log());
    let requests = api_requests.lock().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(run.outputs["attestation-id"], "77");
    let stderr = run.stderr();
    assert!(
        stderr.contains("::warning::retrying the GitHub attestations API in ") && stderr.contains(" s (502)"),
        "{}",
        run.log()
    );
    assert!(stderr.contains("::debug::POST ") && stderr.contains(": 201 Created"), "{}", run.log());
    let stdout = run.stdout();
    let group = stdout.find("::group::GitHub attestations API").unwrap_or_else(|| panic!("{}", run.log()));
    assert!(stdout[group..].contains("::endgroup::"), "{}", run.log());
}

/// The static publish token the registry stand-in accepts in these tests.
const NPM_TOKEN: &str = "npm_staticPublishToken0123456789abcdef";

/// A stand-in `npm` first on PATH that records each call and fails: with a tarball as `path`,
/// nothing in the action may need npm.
#[cfg(unix)]
fn poison_npm(runner: &mut Runner) -> PathBuf {
    let bin = runner.dir.path().join("poison-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let called = runner.dir.path().join("npm-called");
    let npm = bin.join("npm");
    std::fs::write(&npm, format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexit 1\n", called.display())).unwrap();
    make_executable(&npm);
    let path = format!("{}:{}", bin.display(), runner.env["PATH"]);
    runner.set("PATH", &path);
    called
}

/// Packs a package directory with the real npm, outside the action; returns the tarball.
#[cfg(unix)]
fn npm_pack(dir: &Path, into: &Path) -> PathBuf {
    let out = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(into)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "npm pack: {}", String::from_utf8_lossy(&out.stderr));
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    into.join(name.lines().last().unwrap())
}

/// What `publish --bundle` warns when it could only check the bundle against the embedded
/// public-good root (no `--trusted-root`): the stand-in's bundles must never get there.
const PUBLIC_GOOD_FALLBACK: &str = "does not verify against the embedded public-good trusted root";

/// The `::error` annotation a step printed, if any.
fn error_annotation(step: &StepRun) -> Option<&str> {
    step.stdout.lines().find(|l| l.starts_with("::error title="))
}

#[cfg(unix)]
#[test]
fn action_publishes_with_trusted_publishing_under_setup_node_and_without_npm() {
    let (token_server, audiences) = audience_token_endpoint("octo-org/hello");
    let registry = RegistryStandin::start(RegistryConfig {
        trusted_publishers: vec![TrustedPublisher {
            package: "@octo-org/hello".into(),
            repository: "octo-org/hello".into(),
            workflow_file: "release.yml".into(),
        }],
        ..RegistryConfig::default()
    });
    // Trusted publishing needs a package that exists already.
    registry.seed_version("@octo-org/hello", "0.9.0");
    let mut runner = signing_runner(&token_server.url, "http://127.0.0.1:9");
    let dir = write_package(&runner, "hello");
    let tarball = npm_pack(&dir, &runner.workspace());
    let npm_called = poison_npm(&mut runner);
    let url = registry.url();
    // As `actions/setup-node` with `registry-url` leaves the job: a user .npmrc naming the
    // registry, whose token is `${NODE_AUTH_TOKEN}`, and that variable set to a placeholder.
    // The placeholder is no token, so trusted publishing is used; the registry comes from the
    // .npmrc (no `registry` input).
    let npmrc = Path::new(&runner.env["RUNNER_TEMP"]).join(".npmrc");
    std::fs::write(
        &npmrc,
        format!(
            "//{}/:_authToken=${{NODE_AUTH_TOKEN}}\nregistry={url}\nalways-auth=false\n",
            url.trim_start_matches("http://").trim_end_matches('/')
        ),
    )
    .unwrap();
    runner.set("NPM_CONFIG_USERCONFIG", npmrc.to_str().unwrap());
    runner.set("NODE_AUTH_TOKEN", "XXXXX-XXXXX-XXXXX-XXXXX");

    let run = runner.run(&[
        ("path", tarball.file_name().unwrap().to_str().unwrap()),
        ("sigstore", "local"),
        ("publish", "true"),
        ("access", "public"),
    ]);
    assert!(run.success(), "{}", run.log());
    assert_eq!(run.steps.len(), 2);
    assert!(!npm_called.exists(), "npm ran: {}", run.log());

    // Fulcio's token first (attest step), then the registry's for the exchange (publish step).
    assert_eq!(*audiences.lock().unwrap(), ["sigstore".to_owned(), "npm:127.0.0.1".to_owned()]);
    let puts = registry.put_requests();
    assert_eq!(puts.len(), 1, "{}", run.log());
    assert_eq!(puts[0].path_only(), "/@octo-org%2fhello");
    assert!(puts[0].bearer().unwrap().starts_with("npm_oidc_"), "not the exchanged token");

    // What arrived is the attested tarball with the attest step's bundle, unchanged.
    let packument = registry.packument("@octo-org/hello").unwrap();
    assert_eq!(packument["dist-tags"]["latest"], "1.0.0");
    let dist = &packument["versions"]["1.0.0"]["dist"];
    assert_eq!(
        dist["integrity"].as_str().unwrap(),
        format!(
            "sha512-{}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                hex::decode(sha512_hex(&tarball)).unwrap()
            )
        )
    );
    assert!(dist["attestations"]["url"].is_string(), "{packument}");
    let bundle_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&run.outputs["bundle-path"]).unwrap()).unwrap();
    assert_eq!(registry.provenance("@octo-org/hello@1.0.0"), Some(bundle_file));
    assert_eq!(PathBuf::from(&run.outputs["tarball"]), tarball.canonicalize().unwrap());

    // The `trusted-root` output verifies what the registry serves, as a consumer would.
    let root = &run.outputs["trusted-root"];
    assert!(Path::new(root).is_absolute() && Path::new(root).is_file(), "{root:?}");
    let verified = Command::new(bin())
        .args([
            "verify",
            "--registry",
            &url,
            "@octo-org/hello@1.0.0",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--repository",
            "octo-org/hello",
            "--trusted-root",
            root,
        ])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let publish_log = &run.steps[1].stderr;
    assert!(publish_log.contains("is about this tarball and verifies"), "{}", run.log());
    assert!(!publish_log.contains(PUBLIC_GOOD_FALLBACK), "{}", run.log());
    assert!(publish_log.contains("Published @octo-org/hello@1.0.0 to "), "{}", run.log());
}

#[cfg(unix)]
#[test]
fn action_preflight_refusals_fail_the_publish_step_with_the_fix_before_any_upload() {
    let cases = [
        (
            "private package",
            r#"{"name":"@octo-org/hello","version":"1.0.0","private":true,"repository":"github:octo-org/hello"}"#,
            "\"private\": true",
            "remove \"private\": true from package.json",
        ),
        (
            "package of another repository",
            r#"{"name":"@octo-org/hello","version":"1.0.0","repository":"github:octo-org/elsewhere"}"#,
            "https://github.com/octo-org/elsewhere",
            "https://github.com/octo-org/hello",
        ),
    ];
    for (name, package_json, message, fix) in cases {
        let (token_server, _) = token_endpoint(github_jwt("octo-org/hello"));
        let registry =
            RegistryStandin::start(RegistryConfig { tokens: vec![NPM_TOKEN.into()], ..RegistryConfig::default() });
        let mut runner = signing_runner(&token_server.url, "http://127.0.0.1:9");
        runner.set("NODE_AUTH_TOKEN", NPM_TOKEN);
        let dir = runner.workspace().join("hello");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), package_json).unwrap();
        std::fs::write(dir.join("index.js"), "module.exports = 1;\n").unwrap();
        let url = registry.url();
        let run = runner.run(&[
            ("path", "hello"),
            ("sigstore", "local"),
            ("publish", "true"),
            ("access", "public"),
            ("registry", &url),
        ]);
        assert!(!run.success(), "{name}: {}", run.log());
        assert_eq!(run.steps.len(), 2, "{name}: {}", run.log());
        assert_eq!(run.steps[0].code, 0, "{name}: {}", run.log());
        let step = &run.steps[1];
        assert_ne!(step.code, 0, "{name}");
        let error = error_annotation(step).unwrap_or_else(|| panic!("{name}: {}", run.log()));
        assert!(error.starts_with("::error title=npm-attest publish::refusing to publish: "), "{name}: {error}");
        assert!(error.contains(message), "{name}: {error}");
        assert!(error.contains(fix), "{name}: {error}");
        // Refused on package.json and the job's environment alone: the registry heard nothing.
        assert_eq!(registry.requests(), Vec::new(), "{name}");
        assert_eq!(registry.puts(), 0, "{name}");
    }
}

#[cfg(unix)]
#[test]
fn action_fails_the_publish_step_with_the_registrys_answer() {
    // (case, token the job has, version already published, what the annotation says, the PUTs)
    let cases = [
        ("version already published", NPM_TOKEN, true, "@octo-org/hello@1.0.0 is already on the registry", 0),
        ("token the registry refuses", "npm_revokedToken", false, "Unable to authenticate, need: Bearer", 1),
    ];
    for (name, token, seeded, message, puts) in cases {
        let (token_server, _) = token_endpoint(github_jwt("octo-org/hello"));
        let registry =
            RegistryStandin::start(RegistryConfig { tokens: vec![NPM_TOKEN.into()], ..RegistryConfig::default() });
        if seeded {
            registry.seed_version("@octo-org/hello", "1.0.0");
        }
        let mut runner = signing_runner(&token_server.url, "http://127.0.0.1:9");
        runner.set("NODE_AUTH_TOKEN", token);
        write_package(&runner, "hello");
        let url = registry.url();
        let run = runner.run(&[
            ("path", "hello"),
            ("sigstore", "local"),
            ("publish", "true"),
            ("access", "public"),
            ("registry", &url),
        ]);
        assert_eq!(run.steps.len(), 2, "{name}: {}", run.log());
        assert_eq!(run.steps[0].code, 0, "{name}: {}", run.log());
        assert_ne!(run.steps[1].code, 0, "{name}: {}", run.log());
        let error = error_annotation(&run.steps[1]).unwrap_or_else(|| panic!("{name}: {}", run.log()));
        assert!(error.starts_with("::error title=npm-attest publish::"), "{name}: {error}");
        assert!(error.contains(message), "{name}: {error}");
        if seeded {
            assert!(error.contains("bump \"version\" in package.json"), "{name}: {error}");
        } else {
            assert!(error.contains("check the registry token (NODE_AUTH_TOKEN"), "{name}: {error}");
        }
        assert_eq!(registry.puts(), puts, "{name}: {}", run.log());
        assert!(registry.provenance("@octo-org/hello@1.0.0").is_none(), "{name}");
        // The attest step's bundle is still there, for a later `npm-attest publish --bundle`.
        assert!(Path::new(&run.outputs["bundle-path"]).is_file(), "{name}");
    }
}

#[cfg(unix)]
#[test]
fn action_dry_run_checks_the_publish_with_the_stand_ins_trusted_root_and_uploads_nothing() {
    // No identity token and no registry token: a dry run needs neither.
    let registry = RegistryStandin::start(RegistryConfig::default());
    let runner = Runner::new();
    write_package(&runner, "hello");
    let url = registry.url();
    let run = runner.run(&[
        ("path", "hello"),
        ("dry-run", "true"),
        ("publish", "true"),
        ("registry", &url),
        ("access", "public"),
    ]);
    assert!(run.success(), "{}", run.log());
    let root = PathBuf::from(&run.outputs["trusted-root"]);
    assert_eq!(root, PathBuf::from(&run.outputs["bundle-path"]).parent().unwrap().join("trusted_root.json"));
    let publish_log = &run.steps[1].stderr;
    // The bundle was checked against the stand-in's root, exactly: against the embedded
    // public-good root it would only pass with a warning. The registry was only asked whether
    // the version exists.
    assert!(publish_log.contains("is about this tarball and verifies"), "{}", run.log());
    assert!(!publish_log.contains(PUBLIC_GOOD_FALLBACK), "{}", run.log());
    assert!(publish_log.contains("Dry run: would PUT "), "{}", run.log());
    assert!(publish_log.contains("@octo-org/hello-1.0.0.sigstore ("), "{}", run.log());
    assert_eq!(registry.puts(), 0);
    assert_eq!(registry.requests(), [("GET".to_owned(), "/@octo-org%2fhello".to_owned())]);
}

#[cfg(unix)]
#[test]
fn action_passes_shell_metacharacters_through_as_data() {
    // Every hostile input goes through a real publish to the registry stand-in, which records
    // what reached it.
    let (token_server, _) = token_endpoint(github_jwt("octo-org/hello"));
    let registry =
        RegistryStandin::start(RegistryConfig { tokens: vec![NPM_TOKEN.into()], ..RegistryConfig::default() });
    let mut runner = signing_runner(&token_server.url, "http://127.0.0.1:9");
    runner.set("NODE_AUTH_TOKEN", NPM_TOKEN);
    let hostile_dir = "pkg $(touch pwned-path) `touch pwned-tick` 'q' \"dq\" ;x\nnl";
    write_package(&runner, hostile_dir);
    let hostile_tag = "$(touch pwned-tag)'\"\n`touch pwned-tick2`; rm -rf x";
    let hostile_bundle = "-out $(touch pwned-bundle) 'b'.sigstore.json";
    let url = registry.url();
    let run = runner.run(&[
        ("path", hostile_dir),
        ("sigstore", "local"),
        ("publish", "true"),
        ("tag", hostile_tag),
        ("access", "public"),
        ("registry", &url),
        ("bundle-path", hostile_bundle),
    ]);
    assert!(run.success(), "{}", run.log());
    assert_no_pwned_files(&runner);
    assert!(runner.workspace().join(hostile_bundle).is_file(), "{}", run.log());
    // The tag arrived verbatim, as the one dist-tag; the bundle is the hostile-named file's.
    let puts = registry.put_requests();
    assert_eq!(puts.len(), 1, "{}", run.log());
    assert_eq!(puts[0].bearer(), Some(NPM_TOKEN));
    let body = puts[0].json().unwrap();
    assert_eq!(body["dist-tags"], serde_json::json!({ hostile_tag: "1.0.0" }));
    assert_eq!(body["access"], "public");
    let bundle_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runner.workspace().join(hostile_bundle)).unwrap()).unwrap();
    assert_eq!(registry.provenance("@octo-org/hello@1.0.0"), Some(bundle_file));
    // The registry token is masked and appears nowhere else.
    let all = format!("{}{}", run.stdout(), run.stderr());
    let mask = format!("::add-mask::{NPM_TOKEN}");
    assert!(run.stdout().lines().any(|l| l == mask), "{}", run.log());
    assert_eq!(all.matches(NPM_TOKEN).count(), all.matches(&mask).count());
}

#[cfg(unix)]
#[test]
fn action_refuses_a_registry_input_that_is_not_a_url_before_signing() {
    let registry_inputs = [
        "http://127.0.0.1:9/$(touch pwned-registry)",
        "127.0.0.1:9",
        "https://registry.npmjs.org/\n--registry=http://evil",
    ];
    for registry in registry_inputs {
        let runner = Runner::new();
        write_package(&runner, "hello");
        let run = runner.run(&[("path", "hello"), ("dry-run", "true"), ("publish", "true"), ("registry", registry)]);
        assert!(!run.success(), "{registry:?}: {}", run.log());
        assert_eq!(run.steps.len(), 1, "{registry:?}");
        assert_eq!(run.steps[0].code, 2, "{registry:?}: {}", run.log());
        let error = error_annotation(&run.steps[0]).unwrap_or_else(|| panic!("{}", run.log()));
        assert!(
            error.starts_with("::error title=npm-attest action::input registry must be an http(s) URL such as https://registry.npmjs.org/"),
            "{error}"
        );
        // Nothing ran: no bundle, no packed tarball.
        assert_eq!(run.outputs["bundle-path"], "");
        assert_no_pwned_files(&runner);
        let left: Vec<String> = std::fs::read_dir(runner.workspace())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["hello"], "{registry:?}");
    }
}

fn assert_no_pwned_files(runner: &Runner) {
    for entry in std::fs::read_dir(runner.workspace()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with("pwned"), "a shell command in an input ran: {name}");
    }
}

#[cfg(unix)]
#[test]
fn action_refuses_a_non_boolean_input_before_signing() {
    let runner = Runner::new();
    let run = runner.run(&[("publish", "yes")]);
    assert!(!run.success());
    assert_eq!(run.steps.len(), 1);
    assert_eq!(run.steps[0].code, 2);
    assert!(
        run.stdout().contains("::error title=npm-attest action::input publish must be true or false, got \"yes\""),
        "{}",
        run.log()
    );
    assert_eq!(run.outputs["bundle-path"], "");
}

#[test]
fn action_yml_declares_the_interface_and_maps_inputs_through_env() {
    let action = action_yml();
    let inputs = action["inputs"].as_mapping().unwrap();
    let expected_inputs = [
        ("path", "."),
        ("publish", "false"),
        ("registry", ""),
        ("tag", ""),
        ("access", ""),
        ("dry-run", "false"),
        ("bundle-path", ""),
        ("upload-to-github", "false"),
        ("github-token", "${{ github.token }}"),
        ("sigstore", ""),
    ];
    for (name, default) in expected_inputs {
        let input = inputs.get(name).unwrap_or_else(|| panic!("missing input {name}"));
        assert_eq!(input.get("default").map(yaml_str).as_deref(), Some(default), "default of {name}");
        assert!(input.get("description").map(yaml_str).is_some_and(|d| d.len() > 10), "description of {name}");
    }
    for (name, _) in inputs {
        let name = yaml_str(name);
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "input {name} is not kebab-case");
    }
    let outputs = action["outputs"].as_mapping().unwrap();
    for name in [
        "bundle-path",
        "tarball",
        "trusted-root",
        "subject-name",
        "subject-digest",
        "log-index",
        "transparency-log-url",
        "attestation-id",
        "attestation-url",
    ] {
        assert!(outputs.get(name).is_some(), "missing output {name}");
    }
    // No expression inside a `run:` script: inputs reach the scripts only through `env:`.
    for step in action["runs"]["steps"].as_sequence().unwrap() {
        let run = yaml_str(&step["run"]);
        assert!(!run.contains("${{"), "expression inside run: {run}");
    }
}

// ---------------------------------------------------------------------------------------------
// The launcher.

#[cfg(unix)]
struct Launch {
    dir: tempfile::TempDir,
}

#[cfg(unix)]
impl Launch {
    fn new() -> Launch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("release/v9.9.9")).unwrap();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        Launch { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A "binary" that records that it ran and with which arguments.
    fn fake_binary(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        let ran = self.path("ran");
        std::fs::write(&p, format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n", ran.display())).unwrap();
        make_executable(&p);
        p
    }

    fn manifest(&self, lines: &str) -> PathBuf {
        let p = self.path("manifest.txt");
        std::fs::write(&p, lines).unwrap();
        p
    }

    fn run(&self, envs: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("dist/launch.sh")).args(["attest", "--dry-run", "a b"]);
        cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("GITHUB_ACTIONS", "true").env("RUNNER_TEMP", self.path("temp"));
        cmd.env("RUNNER_TOOL_CACHE", self.path("cache"));
        cmd.env("NPM_ATTEST_DOWNLOAD_BASE", format!("file://{}", self.path("release").display()));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn ran(&self) -> Option<String> {
        std::fs::read_to_string(self.path("ran")).ok()
    }
}

#[cfg(unix)]
const LINUX_X64: [(&str, &str); 2] = [("RUNNER_OS", "Linux"), ("RUNNER_ARCH", "X64")];

#[cfg(unix)]
#[test]
fn launcher_runs_a_downloaded_binary_whose_checksum_matches() {
    let l = Launch::new();
    let b = l.fake_binary("release/v9.9.9/npm-attest-x86_64-unknown-linux-musl");
    let m = l.manifest(&format!("release: v9.9.9\n{}  npm-attest-x86_64-unknown-linux-musl\n", sha256_hex(&b)));
    let out = l.run(&[LINUX_X64[0], LINUX_X64[1], ("NPM_ATTEST_MANIFEST", m.to_str().unwrap())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(l.ran().as_deref(), Some("attest\n--dry-run\na b\n"));
    // Cached for the next step, under the release's version.
    assert!(l.path("cache/npm-attest/v9.9.9/npm-attest-x86_64-unknown-linux-musl").is_file());
}

#[cfg(unix)]
#[test]
fn launcher_refuses_a_binary_whose_checksum_does_not_match() {
    let l = Launch::new();
    let b = l.fake_binary("release/v9.9.9/npm-attest-x86_64-unknown-linux-musl");
    // The manifest records another binary's digest: the release asset was replaced.
    let other = "0".repeat(64);
    let m = l.manifest(&format!("release: v9.9.9\n{other}  npm-attest-x86_64-unknown-linux-musl\n"));
    let out = l.run(&[LINUX_X64[0], LINUX_X64[1], ("NPM_ATTEST_MANIFEST", m.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(l.ran(), None, "the mismatching binary ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("::error title=npm-attest launcher::checksum mismatch"), "{stdout}");
    assert!(stdout.contains(&sha256_hex(&b)) && stdout.contains(&other), "{stdout}");
    // The bad download is not kept in the cache.
    assert!(!l.path("cache/npm-attest/v9.9.9/npm-attest-x86_64-unknown-linux-musl").exists());

    // A tampered binary already in the tool cache is refused the same way.
    std::fs::create_dir_all(l.path("cache/npm-attest/v9.9.9")).unwrap();
    l.fake_binary("cache/npm-attest/v9.9.9/npm-attest-x86_64-unknown-linux-musl");
    let good = l.manifest(&format!("release: v9.9.9\n{}  npm-attest-x86_64-unknown-linux-musl\n", sha256_hex(&b)));
    std::fs::write(l.path("cache/npm-attest/v9.9.9/npm-attest-x86_64-unknown-linux-musl"), "#!/bin/sh\ntouch pwned\n")
        .unwrap();
    let out = l.run(&[LINUX_X64[0], LINUX_X64[1], ("NPM_ATTEST_MANIFEST", good.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
}

#[cfg(unix)]
fn fake_cargo(l: &Launch) -> PathBuf {
    // Records its arguments and "builds" a binary that records that it ran.
    let p = l.path("cargo");
    let ran = l.path("ran");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nmkdir -p \"$CARGO_TARGET_DIR/release\"\nprintf '#!/bin/sh\\nprintf \"%%s\\\\n\" \"$@\" > {}\\n' > \"$CARGO_TARGET_DIR/release/npm-attest\"\nchmod +x \"$CARGO_TARGET_DIR/release/npm-attest\"\n",
            l.path("cargo-args").display(),
            ran.display()
        ),
    )
    .unwrap();
    make_executable(&p);
    p
}

#[cfg(unix)]
#[test]
fn launcher_builds_from_source_when_no_binary_fits() {
    let cases: [(&str, Vec<(&str, &str)>); 3] = [
        // A runner with no prebuilt asset (32-bit ARM Linux).
        ("arm", vec![("RUNNER_OS", "Linux"), ("RUNNER_ARCH", "ARM")]),
        // A manifest with no entries: a commit of main.
        ("main", vec![LINUX_X64[0], LINUX_X64[1], ("NPM_ATTEST_MANIFEST", "MAIN")]),
        // Requested, even though a matching binary is recorded.
        ("requested", vec![LINUX_X64[0], LINUX_X64[1], ("NPM_ATTEST_BUILD_FROM_SOURCE", "true")]),
    ];
    for (name, envs) in cases {
        let l = Launch::new();
        let cargo = fake_cargo(&l);
        let b = l.fake_binary("release/v9.9.9/npm-attest-x86_64-unknown-linux-musl");
        let m = l.manifest(&format!("release: v9.9.9\n{}  npm-attest-x86_64-unknown-linux-musl\n", sha256_hex(&b)));
        let main_manifest = repo_root().join("dist/manifest.txt");
        let mut envs: Vec<(&str, String)> = envs
            .into_iter()
            .map(|(k, v)| (k, if v == "MAIN" { main_manifest.display().to_string() } else { v.to_owned() }))
            .collect();
        if !envs.iter().any(|(k, _)| *k == "NPM_ATTEST_MANIFEST") {
            envs.push(("NPM_ATTEST_MANIFEST", m.display().to_string()));
        }
        envs.push(("NPM_ATTEST_CARGO", cargo.display().to_string()));
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = l.run(&envs);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let cargo_args = std::fs::read_to_string(l.path("cargo-args")).unwrap();
        assert_eq!(
            cargo_args,
            format!(
                "build\n--release\n--locked\n--manifest-path\n{}\n--bin\nnpm-attest\n",
                repo_root().join("Cargo.toml").display()
            ),
            "{name}"
        );
        assert_eq!(l.ran().as_deref(), Some("attest\n--dry-run\na b\n"), "{name}: the built binary did not run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("::group::cargo build --release --locked"), "{name}: {stdout}");
        assert!(!l.path("cache/npm-attest").exists(), "{name}: downloaded although building from source");
    }
}

#[cfg(unix)]
#[test]
fn launcher_refuses_exported_bash_functions() {
    let l = Launch::new();
    l.fake_binary("bin");
    let out =
        l.run(&[("NPM_ATTEST_BINARY", l.path("bin").to_str().unwrap()), ("BASH_FUNC_sha256sum%%", "() { echo 0; }")]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(l.ran(), None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exported bash functions"));
}

// ---------------------------------------------------------------------------------------------
// zizmor.

/// zizmor (pinned in tests/interop/requirements.txt, installed by tests/setup-interop) reports
/// nothing on the action and the workflows, with its most demanding persona.
#[test]
fn zizmor_finds_nothing_in_the_action_and_workflows() {
    let venv = crate::interop::interop_dir().join("venv");
    let zizmor = [venv.join("bin/zizmor"), venv.join("Scripts/zizmor.exe")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("zizmor is not installed in {}: run tests/setup-interop", venv.display()));
    let mut files = vec![repo_root().join("action.yml")];
    for dir in [".github/workflows", "examples/workflows"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 4, "{files:?}");
    let out = Command::new(&zizmor)
        .args(["--offline", "--persona=pedantic", "--format=plain"])
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "zizmor reported findings:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("No findings to report"), "{stdout}");
    // Every file was audited.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for f in &files {
        let shown = f.display().to_string();
        assert!(
            stderr.lines().any(|l| l.contains("completed") && l.contains(&shown)),
            "zizmor did not audit {shown}:\n{stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn output_file_parser_reads_both_forms() {
    let parsed = parse_output_file("a=1\nb<<EOF_X\nline1\nline2\nEOF_X\nc=x=y\n");
    assert_eq!(parsed["a"], "1");
    assert_eq!(parsed["b"], "line1\nline2");
    assert_eq!(parsed["c"], "x=y");
}
