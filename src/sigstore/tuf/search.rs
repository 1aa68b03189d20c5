//! One check of the targets search (TUF spec 1.0.34 §5.6.7) that sigstore-tuf 0.15.1 does not
//! make: "if any metadata requested in steps 5.6.7.1 - 5.6.7.2 cannot be downloaded nor
//! validated, end the search". sigstore-tuf skips a delegated role the snapshot does not list
//! and goes on with the next delegation, so a later (non-terminating) role could answer for a
//! path an earlier one was delegated first. python-tuf refuses ("delegated but is not part of
//! snapshot"); so do we.
//!
//! Run after `Updater::get_target` (found or not): every role its search visited is then loaded,
//! so replaying the same pre-order, depth-first search over the loaded roles meets the first
//! skipped role, if there was one, before the role that answered.

use std::collections::BTreeSet;

use sigstore_tuf::{Error, TrustedMetadataSet};

/// sigstore-tuf's (and python-tuf's) bound on the roles one search visits.
const MAX_DELEGATIONS: usize = 32;

pub(super) fn no_unlisted_delegation(set: &TrustedMetadataSet, path: &str) -> sigstore_tuf::Result<()> {
    let listed = |role: &str| set.snapshot().is_some_and(|s| s.meta.contains_key(&format!("{role}.json")));
    let mut to_visit = vec!["targets".to_owned()];
    let mut visited = BTreeSet::new();
    while let Some(role) = to_visit.pop() {
        if !visited.insert(role.clone()) {
            continue;
        }
        if visited.len() > MAX_DELEGATIONS {
            break;
        }
        if role != "targets" && !listed(&role) {
            return Err(Error::Malformed(format!(
                "the targets role {role:?} is delegated for {path} but the snapshot does not list it, so the search ends (TUF spec 5.6.7)"
            )));
        }
        // A role the search did not reach (it answered, or failed, before) ends the replay.
        let Some(targets) = set.targets_role(&role) else { break };
        if targets.target(path).is_some() {
            break;
        }
        let mut children = Vec::new();
        for child in targets.delegations.iter().flat_map(|d| &d.roles) {
            if matches!(child.name.as_str(), "root" | "timestamp" | "snapshot" | "targets") {
                continue;
            }
            // "If used, exactly one of them should be set" (§4.5); sigstore-tuf would use the
            // prefixes and ignore the paths, python-tuf refuses the metadata: so do we.
            if child.paths.is_some() && child.path_hash_prefixes.is_some() {
                return Err(Error::Malformed(format!(
                    "the delegation to {:?} in {role} sets both paths and path_hash_prefixes",
                    child.name
                )));
            }
            if child.matches_path(path)? {
                children.push(child.name.clone());
                if child.terminating {
                    to_visit.clear();
                    break;
                }
            }
        }
        // Pre-order: the first matching child is visited next (the list is popped from the end).
        to_visit.extend(children.into_iter().rev());
    }
    Ok(())
}
