//! Architecture invariants from ARCHITECTURE.md, checked mechanically.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use crate::support::repo_root;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// "Nothing under `src/core` performs I/O": no files, network, environment, clock or processes.
#[test]
fn core_does_no_io() {
    let forbidden = [
        "std::fs",
        "fs_err",
        "tokio",
        "reqwest",
        "hyper",
        "std::net",
        "std::env",
        "std::process",
        "SystemTime::now",
        "Instant::now",
        "OffsetDateTime::now",
        "OsRng",
        "std::io::stdin",
        "println!",
        "eprintln!",
    ];
    let mut files = Vec::new();
    rust_files(&repo_root().join("src/core"), &mut files);
    assert!(!files.is_empty());
    let mut violations = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    violations.push(format!("{}:{}: {}", file.display(), n + 1, word));
                }
            }
        }
    }
    assert!(violations.is_empty(), "I/O in the pure core:\n{}", violations.join("\n"));
}

/// "Only `src/http.rs` builds an HTTP client."
#[test]
fn one_http_client() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    let mut builders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("reqwest::Client::builder")
            || text.contains("ClientBuilder::new")
            || text.contains("reqwest::Client::new")
        {
            builders.push(file.strip_prefix(repo_root()).unwrap().display().to_string());
        }
    }
    builders.retain(|f| f != "src/http.rs");
    assert!(builders.is_empty(), "HTTP clients built outside src/http.rs: {builders:?}");
}

/// Calls that abort on a bad value. On outside input they are bugs; on an internal invariant
/// they must say which.
const ABORTING_CALLS: [&str; 6] = [".unwrap()", ".expect(", "panic!(", "unreachable!(", "todo!(", "unimplemented!("];

/// Aborting calls that stay, each with the reason it cannot fail on outside input:
/// `(file, text on the line, reason)`. Prefer an `// invariant: ...` comment on the line above
/// the call; this list is for lines where a comment does not fit.
const ABORT_ALLOW_LIST: &[(&str, &str, &str)] = &[];

/// The aborting calls in `text` outside `#[cfg(test)]` items and comments, as
/// `(line number, line)`, except those under an `// invariant: ...` comment (on the line above
/// or the same line).
fn aborting_calls(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut test_item_pending = false;
    let mut skip_depth: i64 = 0;
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim();
        let braces = line.matches('{').count() as i64 - line.matches('}').count() as i64;
        if skip_depth > 0 {
            skip_depth += braces;
            continue;
        }
        if code.starts_with("#[cfg(test)]") {
            test_item_pending = true;
            continue;
        }
        if test_item_pending {
            if line.contains('{') {
                test_item_pending = false;
                skip_depth = braces.max(0);
                continue;
            }
            if code.ends_with(';') {
                // `#[cfg(test)] mod tests;`: the module's file is skipped by name.
                test_item_pending = false;
                continue;
            }
        }
        if code.starts_with("//") || !ABORTING_CALLS.iter().any(|c| line.contains(c)) {
            continue;
        }
        let above = i.checked_sub(1).map(|j| lines[j]).unwrap_or("");
        if above.contains("// invariant:") || line.contains("// invariant:") {
            continue;
        }
        found.push((i + 1, code.to_owned()));
    }
    found
}

/// "No `unwrap`/`expect`/`panic!` on outside input; an `expect` on an internal invariant
/// states the invariant." Every aborting call in `src/` outside test code is either under an
/// `// invariant: ...` comment or on [`ABORT_ALLOW_LIST`] with a reason.
#[test]
fn no_aborting_calls_outside_tests_without_a_stated_invariant() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    let mut violations = Vec::new();
    let mut allowed_used = vec![false; ABORT_ALLOW_LIST.len()];
    for file in files {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let rel = file.strip_prefix(repo_root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for (line_no, line) in aborting_calls(&text) {
            let allowed = ABORT_ALLOW_LIST.iter().position(|(f, snippet, _)| *f == rel && line.contains(snippet));
            match allowed {
                Some(k) => allowed_used[k] = true,
                None => violations.push(format!("{rel}:{line_no}: {line}")),
            }
        }
    }
    assert!(
        violations.is_empty(),
        "unwrap/expect/panic outside tests without an `// invariant:` comment or an allow-list \
         entry (return a typed error instead):\n{}",
        violations.join("\n")
    );
    let stale: Vec<_> =
        ABORT_ALLOW_LIST.iter().zip(&allowed_used).filter(|(_, used)| !**used).map(|(entry, _)| entry).collect();
    assert!(stale.is_empty(), "allow-list entries that match nothing: {stale:?}");
}

/// The scanner itself: it finds each aborting call, honours invariant comments, and skips
/// comments and `#[cfg(test)]` items.
#[test]
fn the_aborting_call_scanner_finds_what_it_should() {
    let text = r#"
fn a(x: Option<u8>) -> u8 {
    x.unwrap()
}
fn b(x: Result<u8, ()>) -> u8 {
    // invariant: the caller checked `x`.
    x.expect("checked")
}
fn c() { todo!() }
// A comment about .unwrap() is fine.
fn d() -> u8 { unreachable!("no") }
#[cfg(test)]
mod tests {
    fn e() {
        None::<u8>.unwrap();
        if true { panic!("in a test") }
    }
}
fn f() { unimplemented!() }
fn g(x: Option<u8>) -> u8 { x.expect("oops") }
"#;
    let found: Vec<usize> = aborting_calls(text).into_iter().map(|(n, _)| n).collect();
    assert_eq!(found, [3, 9, 11, 19, 20]);
}

/// The modules directly below `dir`, each with the `use` prefixes of its siblings that its code
/// names (`crate::<prefix>::<sibling>`), comments left out.
fn sibling_edges(dir: &Path, prefix: &str) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir()
            || (path.extension().is_some_and(|e| e == "rs") && !["mod", "lib", "main"].contains(&name.as_str()))
        {
            children.push((name, path));
        }
    }
    let names: std::collections::BTreeSet<String> = children.iter().map(|(n, _)| n.clone()).collect();
    let pattern = regex::Regex::new(&format!(r"\bcrate::{prefix}([a-z_0-9]+)")).unwrap();
    let mut edges = std::collections::BTreeMap::new();
    for (name, path) in children {
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path);
        }
        let mut targets = std::collections::BTreeSet::new();
        for file in files {
            for line in std::fs::read_to_string(&file).unwrap().lines() {
                let code = line.split("//").next().unwrap_or("");
                for cap in pattern.captures_iter(code) {
                    let target = cap[1].to_owned();
                    if target != name && names.contains(&target) {
                        targets.insert(target);
                    }
                }
            }
        }
        edges.insert(name, targets);
    }
    edges
}

/// A cycle in `edges`, if there is one, as the path that closes it.
fn find_cycle(edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

/// "No circles between sibling modules": the top-level modules of `src`, and the rooms of the
/// pure core, only ever call one way.
#[test]
fn sibling_modules_import_each_other_in_one_direction_only() {
    let root = repo_root();
    for (dir, prefix) in
        [("src", ""), ("src/core", "core::"), ("src/sigstore", "sigstore::"), ("src/npm", "npm::"), ("src/ci", "ci::")]
    {
        let edges = sibling_edges(&root.join(dir), prefix);
        assert!(edges.len() > 2, "{dir}: {edges:?}");
        if let Some(cycle) = find_cycle(&edges) {
            panic!("import circle under {dir}: {}", cycle.join(" -> "));
        }
    }
}

/// "Nothing below the commands imports a command module": only the CLI (and `main`) names
/// `crate::cmd`, and `fuzzing`, the fuzz targets' entry points, which sit beside the CLI.
#[test]
fn only_the_cli_reaches_the_command_modules() {
    let edges = sibling_edges(&repo_root().join("src"), "");
    let reaching: Vec<&String> = edges
        .iter()
        .filter(|(name, targets)| targets.contains("cmd") && !["cli", "fuzzing"].contains(&name.as_str()))
        .map(|(n, _)| n)
        .collect();
    assert!(reaching.is_empty(), "modules below the commands import them: {reaching:?}");
    assert!(edges["cli"].contains("cmd"), "the scan no longer sees the CLI's commands: {edges:?}");
}

#[test]
fn the_cycle_finder_finds_a_planted_circle() {
    let mut edges = std::collections::BTreeMap::new();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<std::collections::BTreeSet<_>>();
    edges.insert("ci".to_owned(), set(&["http"]));
    edges.insert("http".to_owned(), set(&[]));
    edges.insert("sigstore".to_owned(), set(&["ci"]));
    assert_eq!(find_cycle(&edges), None);
    edges.insert("ci".to_owned(), set(&["http", "sigstore"]));
    assert_eq!(find_cycle(&edges), Some(vec!["ci".to_owned(), "sigstore".to_owned(), "ci".to_owned()]));
}
