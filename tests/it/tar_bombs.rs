//! Tarballs whose tar header extensions declare gigabytes (issue 17): a GNU long name (`L`), a
//! GNU long link (`K`), a PAX extended header (`x`) and a PAX global header (`g`), each about
//! 3 MB of gzip declaring 3 GiB, followed by a normal `package/package.json`. Before the fix the
//! tar reader took the declared size into memory (3.2 GB resident for `verify`). Every command
//! that reads a tarball must refuse them at the header, fast, with a small peak RSS.
//!
//! The fixtures are made at test time (`bad-tarballs/<attack>-3g.tgz` in a temporary
//! directory), never committed: the 3 GiB payload is one deflate block sequence for 1 MiB of
//! filler, repeated (a block that refers only to its own output decodes the same anywhere in
//! the stream), with the gzip CRC-32 combined arithmetically, so making one takes milliseconds.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flate2::{Compression, Crc};

use crate::support::{bin, data};

const GIB3: u64 = 3 * 1024 * 1024 * 1024;
const MIB: usize = 1024 * 1024;

/// Raw deflate of `bytes`, ended by a sync flush (byte-aligned, not final) or, with `last`, a
/// final block.
fn deflate(bytes: &[u8], last: bool) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::best());
    e.write_all(bytes).unwrap();
    if last {
        return e.finish().unwrap();
    }
    // flate2's flush is a sync flush: an empty stored block ends the output on a byte boundary.
    e.flush().unwrap();
    e.get_ref().clone()
}

pub(crate) fn tar_header(path: &str, entry_type: tar::EntryType, size: u64) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).unwrap();
    h.set_entry_type(entry_type);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    *h.as_bytes()
}

/// A gzip file: a header of `entry_type` declaring `size` bytes, whose data is `prefix`, then
/// filler `a`s, then `suffix`; then a valid `package/package.json` and the end of the archive.
pub(crate) fn header_bomb(path: &Path, entry_type: tar::EntryType, size: u64, prefix: &[u8], suffix: &[u8]) {
    let filler = size - prefix.len() as u64 - suffix.len() as u64;
    let chunks = filler / MIB as u64 - 1;
    let rest = (filler - chunks * MIB as u64) as usize;

    let mut head = tar_header("././@LongLink", entry_type, size).to_vec();
    head.extend_from_slice(prefix);
    let chunk = vec![b'a'; MIB];
    let mut tail = vec![b'a'; rest];
    tail.extend_from_slice(suffix);
    tail.resize(tail.len() + (512 - (size % 512) as usize) % 512, 0);
    let manifest = br#"{"name":"bomb","version":"1.0.0"}"#;
    tail.extend_from_slice(&tar_header("package/package.json", tar::EntryType::Regular, manifest.len() as u64));
    tail.extend_from_slice(manifest);
    tail.resize(tail.len() + 512 - manifest.len() + 1024, 0);

    let mut crc = Crc::new();
    crc.update(&head);
    let mut chunk_crc = Crc::new();
    chunk_crc.update(&chunk);
    for _ in 0..chunks {
        crc.combine(&chunk_crc);
    }
    crc.update(&tail);
    let total = head.len() as u64 + chunks * MIB as u64 + tail.len() as u64;

    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]).unwrap();
    out.write_all(&deflate(&head, false)).unwrap();
    let block = deflate(&chunk, false);
    for _ in 0..chunks {
        out.write_all(&block).unwrap();
    }
    out.write_all(&deflate(&tail, true)).unwrap();
    out.write_all(&crc.sum().to_le_bytes()).unwrap();
    out.write_all(&(total as u32).to_le_bytes()).unwrap();
    out.flush().unwrap();
}

/// The four attacks, written into `dir/bad-tarballs/`.
pub(crate) fn make_bombs(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let bad = dir.join("bad-tarballs");
    std::fs::create_dir_all(&bad).unwrap();
    let pax_prefix = format!("{GIB3} path=").into_bytes();
    let attacks: [(&str, tar::EntryType, &[u8], &[u8]); 4] = [
        ("gnu-longname-3g.tgz", tar::EntryType::GNULongName, b"", b"\0"),
        ("gnu-longlink-3g.tgz", tar::EntryType::GNULongLink, b"", b"\0"),
        ("pax-header-3g.tgz", tar::EntryType::XHeader, &pax_prefix, b"\n"),
        ("pax-global-header-3g.tgz", tar::EntryType::XGlobalHeader, &pax_prefix, b"\n"),
    ];
    attacks
        .into_iter()
        .map(|(name, ty, prefix, suffix)| {
            let path = bad.join(name);
            header_bomb(&path, ty, GIB3, prefix, suffix);
            (name, path)
        })
        .collect()
}

/// What a run of the binary cost: wall time and peak resident memory (VmHWM, polled from
/// /proc while it runs: the high-water mark only grows, so the last reading is the peak up to
/// then, and a blow-up to gigabytes takes far longer than one polling interval).
struct Run {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
    peak_rss_kib: u64,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run_measured(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir).args(args).env_clear();
    for key in ["PATH", "HOME", "TMPDIR"] {
        if let Ok(v) = std::env::var(key) {
            cmd.env(key, v);
        }
    }
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "npm-attest {args:?} still running after 60 s");
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed();
    // Both streams: a batch prints each item's reason on stdout and a summary on stderr.
    // (Their output is a few lines: the pipes cannot fill while the child runs.)
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stderr).unwrap();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    Run { code: status.code(), stderr, elapsed, peak_rss_kib: peak }
}

/// Peak resident memory allowed: the binary's own baseline (tens of MB) with headroom; the
/// attack wanted 3 GiB.
const MAX_PEAK_RSS_KIB: u64 = 200 * 1024;
/// Wall time allowed. Generous: `verify` in a debug build hashes the 3 MB file (SHA-256 and
/// SHA-512, unoptimized) before it looks inside, which takes seconds on a loaded CI machine;
/// the release binary answers in milliseconds. Peak RSS is the assertion that tells the
/// fixed reader from the old one (3.2 GB).
const MAX_ELAPSED: Duration = Duration::from_secs(30);

fn assert_refused_fast(run: &Run, what: &str, reason: &str) {
    // Exit code 2: bad input.
    assert_eq!(run.code, Some(2), "{what}: {}", run.stderr);
    assert!(run.stderr.contains(reason), "{what}: {}", run.stderr);
    assert!(run.stderr.contains("-byte limit for tar header extensions"), "{what}: {}", run.stderr);
    assert!(run.peak_rss_kib > 0, "{what}: no RSS reading");
    assert!(run.peak_rss_kib < MAX_PEAK_RSS_KIB, "{what}: peak RSS {} KiB", run.peak_rss_kib);
    assert!(run.elapsed < MAX_ELAPSED, "{what}: took {:?}", run.elapsed);
}

#[test]
fn the_fixtures_are_what_they_claim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gnu-longname-3g.tgz");
    header_bomb(&path, tar::EntryType::GNULongName, GIB3, b"", b"\0");
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 1024 * 1024 && len < 8 * 1024 * 1024, "{len}");
    // A small one of the same construction is a valid archive to the tar crate: the long
    // name is read whole, and package.json follows it.
    let small = dir.path().join("small.tgz");
    header_bomb(&small, tar::EntryType::GNULongName, 3 * MIB as u64 + 7, b"", b"\0");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(&small).unwrap()));
    let mut paths = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        paths.push(entry.path_bytes().len());
    }
    assert_eq!(paths, vec![3 * MIB + 6]);
    // And the gzip stream, CRC and length included, is intact.
    let mut decoder = flate2::read::GzDecoder::new(std::fs::File::open(&small).unwrap());
    let n = std::io::copy(&mut decoder, &mut std::io::sink()).unwrap();
    assert_eq!(n % 512, 0);
}

#[test]
fn the_reader_refuses_each_extension_at_its_header() {
    use npm_attest::npm::tarball::{read_package, TarballError, MAX_HEADER_EXTENSION_BYTES};
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in make_bombs(dir.path()) {
        let started = Instant::now();
        let err = read_package(&path).unwrap_err();
        // The reader itself stops at the first header, even unoptimized.
        assert!(
            matches!(err, TarballError::HeaderExtensionTooLarge { size: GIB3, limit: MAX_HEADER_EXTENSION_BYTES, .. }),
            "{name}: {err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{name}: {:?}", started.elapsed());
    }
}

/// `verify` (one bundle, and a bundle directory), `attest` and `publish --bundle`.
#[cfg(target_os = "linux")]
#[test]
fn every_command_refuses_header_bombs_fast_with_small_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = data("npm-provenance/sigstore-2.0.0-provenance.sigstore.json");
    assert!(bundle.exists(), "{}", bundle.display());
    let bundle = bundle.to_str().unwrap().to_owned();
    for (name, path) in make_bombs(dir.path()) {
        let kind = if name.starts_with("pax-global") {
            "PAX global header"
        } else if name.starts_with("pax") {
            "PAX extended header"
        } else if name.contains("longlink") {
            "GNU long link"
        } else {
            "GNU long name"
        };
        let tgz = path.to_str().unwrap();
        let run = run_measured(dir.path(), &["verify", "--offline", "--bundle", &bundle, "--repository", "o/r", tgz]);
        assert_refused_fast(&run, &format!("verify {name}"), kind);

        // Directory mode: X.sigstore.json next to X.tgz.
        let set = dir.path().join(format!("dir-{name}"));
        std::fs::create_dir_all(&set).unwrap();
        let stem = name.trim_end_matches(".tgz");
        std::fs::copy(&bundle, set.join(format!("{stem}.sigstore.json"))).unwrap();
        std::fs::rename(&path, set.join(name)).unwrap();
        let set_arg = set.to_str().unwrap();
        let run = run_measured(dir.path(), &["verify", "--offline", "--bundle", set_arg, "--repository", "o/r"]);
        assert_refused_fast(&run, &format!("verify <directory> {name}"), kind);

        let tgz = set.join(name);
        let tgz = tgz.to_str().unwrap();
        let run = run_measured(dir.path(), &["attest", tgz, "--dry-run"]);
        assert_refused_fast(&run, &format!("attest {name}"), kind);

        let run = run_measured(dir.path(), &["publish", "--registry", "http://127.0.0.1:9", "--bundle", &bundle, tgz]);
        assert_refused_fast(&run, &format!("publish --bundle {name}"), kind);
    }
}

/// Small archives built block by block, for the rules of the tar walk.
mod walk {
    use std::io::Write as _;

    use npm_attest::npm::tarball::{read_package, read_package_with_limits, Limits, TarballError};

    use super::tar_header;

    fn member(out: &mut Vec<u8>, path: &str, entry_type: tar::EntryType, data: &[u8]) {
        out.extend_from_slice(&tar_header(path, entry_type, data.len() as u64));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    fn pax(records: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let body = format!(" {k}={v}\n");
            // The length counts its own digits.
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            out.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        out
    }

    const MANIFEST: &[u8] = br#"{"name":"walked","version":"1.0.0"}"#;

    fn tgz(tar: &[u8]) -> tempfile::NamedTempFile {
        let mut tar = tar.to_vec();
        tar.extend_from_slice(&[0u8; 1024]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&gz.finish().unwrap()).unwrap();
        file
    }

    fn read(tar: &[u8]) -> Result<String, TarballError> {
        let file = tgz(tar);
        read_package(file.path()).map(|t| format!("{}@{}", t.name, t.version))
    }

    fn not_tar(r: Result<String, TarballError>, says: &str) {
        match r {
            Err(TarballError::NotTar { reason }) => assert!(reason.contains(says), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_names_and_pax_paths_name_the_next_member() {
        // A GNU long name renames the member after it: here, to package/package.json.
        let mut t = Vec::new();
        member(&mut t, "././@LongLink", tar::EntryType::GNULongName, b"package/package.json\0");
        member(&mut t, "package/x", tar::EntryType::Regular, MANIFEST);
        assert_eq!(read(&t).unwrap(), "walked@1.0.0");
        // So does a PAX path.
        let mut t = Vec::new();
        member(&mut t, "PaxHeader/x", tar::EntryType::XHeader, &pax(&[("path", "package/package.json")]));
        member(&mut t, "package/x", tar::EntryType::Regular, MANIFEST);
        assert_eq!(read(&t).unwrap(), "walked@1.0.0");
        // And the rename applies to one member only.
        let mut t = Vec::new();
        member(&mut t, "PaxHeader/x", tar::EntryType::XHeader, &pax(&[("path", "package/package.json")]));
        member(&mut t, "package/a", tar::EntryType::Regular, MANIFEST);
        member(&mut t, "package/b", tar::EntryType::Regular, b"not json");
        assert_eq!(read(&t).unwrap(), "walked@1.0.0");
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        assert!(matches!(read(&t), Err(TarballError::DuplicatePackageJson)));
    }

    /// A PAX `size` record overrides the header's size (POSIX), as node-tar reads it: the
    /// member's data is that long, and the next header is found after it.
    #[test]
    fn a_pax_size_overrides_the_header_size() {
        let mut t = Vec::new();
        member(&mut t, "PaxHeader/x", tar::EntryType::XHeader, &pax(&[("size", &MANIFEST.len().to_string())]));
        // The header says 0 bytes; the PAX record says MANIFEST.len().
        t.extend_from_slice(&tar_header("package/package.json", tar::EntryType::Regular, 0));
        t.extend_from_slice(MANIFEST);
        t.resize(t.len().div_ceil(512) * 512, 0);
        assert_eq!(read(&t).unwrap(), "walked@1.0.0");
    }

    #[test]
    fn ambiguous_or_unused_extensions_are_refused() {
        let mut t = Vec::new();
        member(&mut t, "././@LongLink", tar::EntryType::GNULongName, b"a\0");
        member(&mut t, "././@LongLink", tar::EntryType::GNULongName, b"b\0");
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        not_tar(read(&t), "two GNU long names");

        let mut t = Vec::new();
        member(&mut t, "././@LongLink", tar::EntryType::GNULongName, b"package/package.json\0");
        member(&mut t, "PaxHeader/x", tar::EntryType::XHeader, &pax(&[("path", "package/other")]));
        member(&mut t, "package/x", tar::EntryType::Regular, MANIFEST);
        not_tar(read(&t), "both a GNU long name and a PAX path");

        let mut t = Vec::new();
        member(&mut t, "pax_global_header", tar::EntryType::XGlobalHeader, &pax(&[("path", "package/package.json")]));
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        not_tar(read(&t), "PAX global header sets \"path\"");

        // A global header with a comment (git archive writes one) is fine.
        let mut t = Vec::new();
        member(&mut t, "pax_global_header", tar::EntryType::XGlobalHeader, &pax(&[("comment", "abc")]));
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        assert_eq!(read(&t).unwrap(), "walked@1.0.0");

        let mut t = Vec::new();
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        member(&mut t, "PaxHeader/x", tar::EntryType::XHeader, &pax(&[("path", "package/y")]));
        not_tar(read(&t), "describe no member");

        let mut t = Vec::new();
        member(&mut t, "PaxHeader/x", tar::EntryType::XHeader, b"12 path=a\n");
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        not_tar(read(&t), "malformed PAX");

        let mut t = Vec::new();
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        member(&mut t, "package/sparse", tar::EntryType::GNUSparse, b"");
        not_tar(read(&t), "GNU sparse");

        let mut t = Vec::new();
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        let last = t.len() - 1024; // the last header
        t[last] ^= 1; // the checksum no longer matches
        not_tar(read(&t), "checksum");
    }

    #[test]
    fn the_file_and_unpacked_size_caps_are_named() {
        let mut t = Vec::new();
        member(&mut t, "package/package.json", tar::EntryType::Regular, MANIFEST);
        member(&mut t, "package/big", tar::EntryType::Regular, &vec![b'x'; 64 * 1024]);
        let file = tgz(&t);
        let small_file = Limits { max_tarball_bytes: 100, ..Limits::default() };
        let e = read_package_with_limits(file.path(), small_file).unwrap_err();
        assert!(matches!(e, TarballError::TooLarge { limit: 100 }), "{e}");
        assert!(e.to_string().contains("100-byte limit"), "{e}");
        let small_unpacked = Limits { max_unpacked_bytes: 4096, ..Limits::default() };
        let e = read_package_with_limits(file.path(), small_unpacked).unwrap_err();
        assert!(matches!(e, TarballError::UnpackedTooLarge { limit: 4096 }), "{e}");
        assert!(e.to_string().contains("4096-byte limit"), "{e}");
        let small_ext = Limits { max_extension_bytes: 8, ..Limits::default() };
        let mut t = Vec::new();
        member(&mut t, "PaxHeader/x", tar::EntryType::XHeader, &pax(&[("path", "package/package.json")]));
        member(&mut t, "package/x", tar::EntryType::Regular, MANIFEST);
        let file = tgz(&t);
        let e = read_package_with_limits(file.path(), small_ext).unwrap_err();
        assert!(matches!(e, TarballError::HeaderExtensionTooLarge { limit: 8, .. }), "{e}");
        assert!(read_package_with_limits(file.path(), Limits::default()).is_ok());
    }
}
