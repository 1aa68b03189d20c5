//! `.npmrc` text: parsed as `publish` reads it (with `${VAR}` expansion from a fixed
//! environment), then the registry and token chosen for a package and the auth plan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npm_attest::core::npm::PackageName;
use npm_attest::core::npm::npmrc::{nerf_dart, Npmrc};
use npm_attest::core::npm::publish::trusted_publishing_audience;
use npm_attest::npm::registry::{plan_auth, registry_url};

fn env(key: &str) -> Option<String> {
    match key {
        "NPM_TOKEN" => Some("npm_fuzz".into()),
        "HOME" => Some("/home/fuzz".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rc = Npmrc::parse(&text, &env);
    let no_env = |_: &str| None;
    for name in ["plain", "@scope/pkg"] {
        let Ok(name) = PackageName::parse(name) else {
            continue;
        };
        if let Ok(registry) = registry_url(None, &rc, &no_env, &name) {
            let _ = rc.auth_token_for(&registry);
            let _ = nerf_dart(&registry);
            let _ = trusted_publishing_audience(&registry);
            let _ = plan_auth(&registry, &rc, &no_env);
        }
    }
    let merged = Npmrc::parse("registry=https://registry.npmjs.org/\n", &no_env).overlay(rc);
    let _ = merged.get("registry");
});
