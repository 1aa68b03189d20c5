//! npm tarballs: written to a temporary file and read as `attest` reads them.
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use npm_attest::npm::tarball::{parse_manifest, read_package};

fuzz_target!(|data: &[u8]| {
    let _ = parse_manifest(data);
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).is_err() {
        return;
    }
    let _ = read_package(file.path());
});
