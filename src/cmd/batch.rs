//! What `attest` and `publish` share when they take several packages (GitHub issue 7): the
//! list of inputs (the arguments, or the workspaces of a project root) and the verdict that
//! closes a batch, where one failing package does not stop the others.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::fail;
use crate::error::{classify, fail_with_hint, render, ExitKind};
use crate::npm::workspaces;
use crate::report;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The packages named on the command line, or, with `workspaces`, the publishable workspace
/// packages of the one project root named (private ones are skipped as `npm publish` skips them).
pub fn inputs(packages: &[PathBuf], workspaces: bool) -> anyhow::Result<Vec<PathBuf>> {
    if !workspaces {
        return Ok(packages.to_vec());
    }
    let root = match packages {
        [root] => root,
        _ => {
            return Err(fail_with_hint(
                ExitKind::BadInput,
                "--workspaces takes one project root, not a list of packages",
                "pass the directory holding the root package.json (default: the current directory)",
            ))
        }
    };
    let found = workspaces::find(root).map_err(|e| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("cannot list the workspaces of {}: {e}", root.display()),
            "add a `workspaces` array of directory globs to the root package.json",
        )
    })?;
    let mut publishable = Vec::new();
    for dir in found {
        if is_private(&dir) {
            report::info(&format!("Skipping workspace {}: marked as private", dir.display()));
        } else {
            publishable.push(dir);
        }
    }
    if publishable.is_empty() {
        return Err(fail_with_hint(
            ExitKind::BadInput,
            format!("the workspaces of {} match no publishable package", root.display()),
            "check the `workspaces` globs in the root package.json",
        ));
    }
    Ok(publishable)
}

/// Whether a package directory's package.json says `"private": true` (npm does not publish it).
fn is_private(dir: &Path) -> bool {
    std::fs::read(dir.join("package.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|manifest| manifest.get("private") == Some(&Value::Bool(true)))
}

/// An error as one line, without the `error: ` prefix, for a per-package line or JSON field.
pub fn error_text(error: &anyhow::Error) -> String {
    let line = render(error);
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// The error that ends a batch in which `failures` (label and error) of `total` packages
/// failed, or `Ok` when none did. Some failed and others succeeded: exit 5
/// (`ExitKind::PartialFailure`). All failed: their common exit kind, if they share one.
pub fn verdict(total: usize, failures: &[(&str, &anyhow::Error)], hint: &str) -> anyhow::Result<()> {
    if failures.is_empty() {
        return Ok(());
    }
    let kind = if failures.len() < total {
        ExitKind::PartialFailure
    } else {
        let kinds: Vec<ExitKind> = failures.iter().map(|(_, error)| classify(error).0).collect();
        match kinds.split_first() {
            Some((first, rest)) if rest.iter().all(|k| k == first) => *first,
            _ => ExitKind::PartialFailure,
        }
    };
    let names: Vec<&str> = failures.iter().map(|(label, _)| *label).collect();
    Err(fail_with_hint(kind, format!("{} of {total} packages failed: {}", failures.len(), names.join(", ")), hint))
}

/// Whether a package argument is a directory (to pack) rather than a tarball.
pub fn is_dir(package: &Path) -> anyhow::Result<bool> {
    let meta = std::fs::metadata(package).map_err(|e| {
        fail_with_hint(
            ExitKind::BadInput,
            format!("cannot read {}: {e}", package.display()),
            "pass a tarball made by `npm pack` or a package directory",
        )
    })?;
    Ok(meta.is_dir())
}

/// The `--json` object of a batch, `{"packages":[...],"succeeded":N,"failed":M}`, from each
/// package's own object or, for a failed one, its label and error.
pub fn json_summary<'a>(entries: impl Iterator<Item = Result<Value, (&'a str, &'a anyhow::Error)>>) -> Value {
    let (mut succeeded, mut failed) = (0, 0);
    let packages: Vec<Value> = entries
        .map(|entry| match entry {
            Ok(value) => {
                succeeded += 1;
                value
            }
            Err((label, error)) => {
                failed += 1;
                json!({"package": label, "error": error_text(error)})
            }
        })
        .collect();
    json!({"packages": packages, "succeeded": succeeded, "failed": failed})
}

/// Runs `step` on every `Ok` item, at most `limit` at a time, keeping the order; `Err` items
/// pass through untouched.
pub(crate) async fn bounded<T, U, E, F, Fut>(
    limit: usize,
    items: Vec<Result<T, E>>,
    step: F,
) -> anyhow::Result<Vec<Result<U, E>>>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = U> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut tasks = JoinSet::new();
    let mut results: Vec<Option<Result<U, E>>> = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Ok(item) => {
                results.push(None);
                let permits = Arc::clone(&permits);
                let work = step(item);
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    (index, work.await)
                });
            }
            Err(passed) => results.push(Some(Err(passed))),
        }
    }
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.map_err(|e| fail(ExitKind::Internal, format!("a batch task stopped: {e}")))?;
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(Ok(result));
        }
    }
    results.into_iter().map(|r| r.ok_or_else(|| fail(ExitKind::Internal, "a batch task was lost"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bounded_keeps_the_order_passes_failures_through_and_never_exceeds_the_limit() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let items: Vec<Result<u64, &str>> = vec![Ok(30), Err("refused"), Ok(10), Ok(20), Ok(5), Ok(1)];
        let step = |delay: u64| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                delay * 2
            }
        };
        let out = bounded(2, items, step).await.unwrap();
        assert_eq!(out, vec![Ok(60), Err("refused"), Ok(20), Ok(40), Ok(10), Ok(2)]);
        assert_eq!(most.load(Ordering::SeqCst), 2, "two at a time, not more and not fewer");
    }
}
