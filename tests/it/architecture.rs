//! Architecture invariants from ARCHITECTURE.md, checked mechanically.

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
        "std::fs", "fs_err", "tokio", "reqwest", "hyper", "std::net", "std::env", "std::process",
        "SystemTime::now", "Instant::now", "OffsetDateTime::now", "OsRng", "std::io::stdin", "println!", "eprintln!",
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
        if text.contains("reqwest::Client::builder") || text.contains("ClientBuilder::new") || text.contains("reqwest::Client::new") {
            builders.push(file.strip_prefix(repo_root()).unwrap().display().to_string());
        }
    }
    builders.retain(|f| f != "src/http.rs");
    assert!(builders.is_empty(), "HTTP clients built outside src/http.rs: {builders:?}");
}
