//! Workspace definitions as a monorepo states them: `pnpm-workspace.yaml` text, or a root
//! `package.json`'s `workspaces`, then the patterns applied to a fixed directory list (and, in
//! the third mode, patterns and directories both from the input). Input: one selector byte,
//! then the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::npm::workspaces::{patterns, pnpm_patterns, select};

const DIRECTORIES: &[&str] =
    &["packages/a", "packages/b/nested", "apps/web", ".hidden/pkg", "packages/.private", "a/b/c/d/e/f/g/h"];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    let candidates: Vec<String> = DIRECTORIES.iter().map(|d| (*d).to_owned()).collect();
    match which % 3 {
        0 => {
            if let Ok(list) = pnpm_patterns(&text) {
                let _ = select(&list, &candidates);
            }
        }
        1 => {
            if let Ok(manifest) = serde_json::from_str(&text) {
                if let Some(list) = patterns(&manifest) {
                    let _ = select(&list, &candidates);
                }
            }
        }
        _ => {
            // Patterns before an empty line, directories after it.
            let (head, tail) = text.split_once("\n\n").unwrap_or((&text, ""));
            let list: Vec<String> = head.lines().map(str::to_owned).collect();
            let dirs: Vec<String> = tail.lines().map(str::to_owned).collect();
            let _ = select(&list, &dirs);
        }
    }
});
