//! Publishing order for a batch (GitHub issue 12): dependencies before dependents, so that a
//! published package never points at a version the registry does not have yet
//! (package-managers.md §4, pnpm's chunks and changesets 3's dependency-aware chunks).
//!
//! Edges come from `dependencies`, `optionalDependencies` and `peerDependencies` (what an
//! install of the published package needs), between packages of the batch only.
//! `devDependencies` are left out: they are never installed from the registry by consumers,
//! and test-helper cycles through them are common.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// The dependency fields that order a batch.
pub const ORDER_FIELDS: [&str; 3] = ["dependencies", "optionalDependencies", "peerDependencies"];

/// The names a manifest depends on (in the ordering fields), aliases (`npm:real@…`) resolved.
pub fn dependency_names(manifest: &Map<String, Value>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for field in ORDER_FIELDS {
        let Some(deps) = manifest.get(field).and_then(Value::as_object) else { continue };
        for (name, spec) in deps {
            let real = spec
                .as_str()
                .and_then(|s| s.strip_prefix("npm:"))
                .and_then(|rest| {
                    // `@scope/name@range` or `name@range`: the last `@` after the first char.
                    rest.get(1..).and_then(|tail| tail.find('@')).map(|at| &rest[..at + 1])
                })
                .unwrap_or(name);
            names.insert(real.to_owned());
        }
    }
    names
}

/// The batch in layers: every package of a layer depends only on packages of earlier layers.
/// Within a layer the input order is kept. Packages on a cycle cannot be ordered: they are put
/// together in one layer after everything else they need, and each cycle is returned (its
/// names, sorted) so that the caller can report it.
pub fn layers(packages: &[(String, BTreeSet<String>)]) -> (Vec<Vec<usize>>, Vec<Vec<String>>) {
    let index: HashMap<&str, usize> = packages.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect();
    // Dependencies inside the batch only (a package depending on itself is no edge).
    let deps: Vec<BTreeSet<usize>> = packages
        .iter()
        .enumerate()
        .map(|(i, (_, d))| d.iter().filter_map(|n| index.get(n.as_str()).copied()).filter(|&j| j != i).collect())
        .collect();
    let mut placed = vec![false; packages.len()];
    let mut out = Vec::new();
    let mut cycles = Vec::new();
    while placed.iter().any(|p| !p) {
        let ready: Vec<usize> =
            (0..packages.len()).filter(|&i| !placed[i] && deps[i].iter().all(|&j| placed[j])).collect();
        if !ready.is_empty() {
            for &i in &ready {
                placed[i] = true;
            }
            out.push(ready);
            continue;
        }
        // Stuck: what remains holds at least one cycle. Take the smallest strongly connected
        // group whose outside dependencies are all placed.
        let remaining: Vec<usize> = (0..packages.len()).filter(|&i| !placed[i]).collect();
        let reach = |from: usize| -> BTreeSet<usize> {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from];
            while let Some(n) = stack.pop() {
                for &d in &deps[n] {
                    if !placed[d] && seen.insert(d) {
                        stack.push(d);
                    }
                }
            }
            seen
        };
        let reaches: HashMap<usize, BTreeSet<usize>> = remaining.iter().map(|&i| (i, reach(i))).collect();
        let group = remaining
            .iter()
            .filter_map(|&i| {
                let own = reaches.get(&i)?;
                if !own.contains(&i) {
                    return None;
                }
                // The group of i: the nodes it reaches that reach it back.
                let group: BTreeSet<usize> =
                    own.iter().copied().filter(|j| reaches.get(j).is_some_and(|r| r.contains(&i))).collect();
                // Closed: nothing outside the group is still unplaced.
                let closed = group.iter().all(|&g| deps[g].iter().all(|&d| placed[d] || group.contains(&d)));
                closed.then_some(group)
            })
            .min_by_key(BTreeSet::len)
            .unwrap_or_else(|| remaining.iter().copied().collect());
        let mut names: Vec<String> = group.iter().map(|&i| packages[i].0.clone()).collect();
        names.sort();
        cycles.push(names);
        for &i in &group {
            placed[i] = true;
        }
        out.push(group.into_iter().collect());
    }
    (out, cycles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(items: &[(&str, &[&str])]) -> Vec<(String, BTreeSet<String>)> {
        items.iter().map(|(n, d)| ((*n).to_owned(), d.iter().map(|s| (*s).to_owned()).collect())).collect()
    }

    #[test]
    fn dependencies_come_first_and_the_input_order_is_kept_within_a_layer() {
        let b = batch(&[("app", &["core", "util", "react"]), ("core", &[]), ("util", &["core"]), ("cli", &[])]);
        let (layers, cycles) = layers(&b);
        assert_eq!(layers, vec![vec![1, 3], vec![2], vec![0]]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn a_cycle_is_reported_and_published_together_after_its_dependencies() {
        let b = batch(&[("a", &["b"]), ("b", &["a", "base"]), ("base", &[]), ("top", &["a"])]);
        let (layers, cycles) = layers(&b);
        assert_eq!(layers, vec![vec![2], vec![0, 1], vec![3]]);
        assert_eq!(cycles, vec![vec!["a".to_owned(), "b".to_owned()]]);
        let (layers, cycles) = super::layers(&batch(&[("self", &["self"])]));
        assert_eq!(layers, vec![vec![0]]);
        assert!(cycles.is_empty());
    }

    #[test]
    fn dependency_names_read_the_install_fields_and_aliases() {
        let m = json!({
            "dependencies": {"x": "^1", "alias": "npm:@real/pkg@^2"},
            "peerDependencies": {"p": "*"},
            "optionalDependencies": {"o": "1"},
            "devDependencies": {"dev-only": "1"}
        });
        let names: Vec<String> = dependency_names(m.as_object().unwrap()).into_iter().collect();
        assert_eq!(names, vec!["@real/pkg", "o", "p", "x"]);
    }
}
