//! npm package tarballs: reading `package/package.json` and hashing the exact bytes in one
//! streaming pass, and running `npm pack` for a package directory.
//!
//! The tarball is never held in memory: the file is read through a hashing reader into the
//! gzip decoder and our tar walk ([`ustar`]). Every entry is walked (up to [`MAX_ENTRIES`]) so
//! that a truncated or corrupt archive is refused even when `package.json` comes first, and the
//! bytes after the gzip stream are hashed too: the digest covers the whole file.
//!
//! Every size is capped before anything is read: the file ([`MAX_TARBALL_BYTES`]), what it
//! unpacks to ([`MAX_UNPACKED_BYTES`]), each tar header extension
//! ([`MAX_HEADER_EXTENSION_BYTES`]) and `package.json` ([`MAX_PACKAGE_JSON_BYTES`]).

mod ustar;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha1::Sha1;
use sha2::{Digest as _, Sha512};

use crate::core::npm::statement::Subject;
use crate::core::npm::{purl, NameError, PackageName, PackageVersion, VersionError};
use crate::core::wire::encoding::b64_encode;
use crate::error::{Classify as _, ExitKind};

/// The largest `package/package.json` accepted.
pub const MAX_PACKAGE_JSON_BYTES: u64 = 4 * 1024 * 1024;
/// The most tar headers walked (extension headers included).
pub const MAX_ENTRIES: usize = 100_000;
/// The largest GNU long name/long link (`L`/`K`) or PAX extended/global header (`x`/`g`)
/// accepted. npm's tar writes a PAX header only for a path over 100 bytes or a large file:
/// a few hundred bytes. node-tar itself ignores meta entries over 1 MiB; 64 KiB is room for
/// any real path (PATH_MAX is 4096) and small enough to hold in memory.
pub const MAX_HEADER_EXTENSION_BYTES: u64 = 64 * 1024;
/// The largest tarball file read (what the registry serves is capped the same way).
pub const MAX_TARBALL_BYTES: u64 = 256 * 1024 * 1024;
/// The most bytes a tarball may unpack to: 4x the file cap, so a gzip bomb costs seconds of
/// CPU at most, never memory (nothing unpacked is held but `package.json`).
pub const MAX_UNPACKED_BYTES: u64 = 1024 * 1024 * 1024;
/// The most bytes of file names kept (the file list): with 64 KiB paths, 100 000 entries could
/// otherwise hold 6 GiB.
pub const MAX_FILE_NAME_BYTES: u64 = 16 * 1024 * 1024;

/// How messages name the manifest: `<dir>/package.json` under the single top-level directory.
const PACKAGE_JSON_PATH: &str = "package/package.json (or <top-level dir>/package.json)";

/// What is wrong with a tarball.
#[derive(Debug)]
#[non_exhaustive]
pub enum TarballError {
    Open { source: io::Error },
    Read { source: io::Error },
    NotGzip,
    CorruptGzip { reason: String },
    Truncated,
    NotTar { reason: String },
    TooManyEntries { limit: usize },
    HeaderExtensionTooLarge { kind: &'static str, size: u64, limit: u64 },
    FileNamesTooLarge { limit: u64 },
    TooLarge { limit: u64 },
    UnpackedTooLarge { limit: u64 },
    NoPackageJson,
    DuplicatePackageJson,
    PackageJsonNotAFile,
    PackageJsonTooLarge { size: u64, limit: u64 },
    InvalidJson { reason: String },
    MissingField { field: &'static str },
    FieldNotAString { field: &'static str },
    InvalidName { name: String, source: NameError },
    InvalidVersion { source: VersionError },
}

impl fmt::Display for TarballError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { source } => write!(f, "cannot open it: {source}"),
            Self::Read { source } => write!(f, "cannot read it: {source}"),
            Self::NotGzip => f.write_str("not a gzip file (npm tarballs are .tgz, made by `npm pack`)"),
            Self::CorruptGzip { reason } => write!(f, "corrupt gzip data: {reason}"),
            Self::Truncated => f.write_str("the file is truncated (the gzip stream ends early)"),
            Self::NotTar { reason } => write!(f, "not a valid tar archive: {reason}"),
            Self::TooManyEntries { limit } => write!(f, "more than {limit} entries in the archive"),
            Self::HeaderExtensionTooLarge { kind, size, limit } => {
                write!(f, "a {kind} of {size} bytes, larger than the {limit}-byte limit for tar header extensions")
            }
            Self::FileNamesTooLarge { limit } => {
                write!(f, "the file names in the archive add up to more than {limit} bytes")
            }
            Self::TooLarge { limit } => {
                write!(f, "the file is larger than the {limit}-byte limit for package tarballs")
            }
            Self::UnpackedTooLarge { limit } => {
                write!(f, "the archive unpacks to more than the {limit}-byte limit for package tarballs")
            }
            Self::NoPackageJson => write!(f, "no {PACKAGE_JSON_PATH} in the archive"),
            Self::DuplicatePackageJson => {
                write!(f, "more than one {PACKAGE_JSON_PATH} in the archive")
            }
            Self::PackageJsonNotAFile => write!(f, "{PACKAGE_JSON_PATH} is not a regular file"),
            Self::PackageJsonTooLarge { size, limit } => {
                write!(f, "{PACKAGE_JSON_PATH} is {size} bytes, larger than the {limit}-byte limit")
            }
            Self::InvalidJson { reason } => {
                write!(f, "{PACKAGE_JSON_PATH} is not valid JSON: {reason}")
            }
            Self::MissingField { field } => write!(f, "{PACKAGE_JSON_PATH} has no \"{field}\""),
            Self::FieldNotAString { field } => {
                write!(f, "{PACKAGE_JSON_PATH} \"{field}\" is not a string")
            }
            Self::InvalidName { name, source } => {
                write!(f, "invalid package name {:?}: {source}", one_line(name))
            }
            Self::InvalidVersion { source } => write!(f, "invalid package version: {source}"),
        }
    }
}

impl std::error::Error for TarballError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open { source } | Self::Read { source } => Some(source),
            _ => None,
        }
    }
}

/// A package tarball, read and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageTarball {
    pub path: PathBuf,
    pub name: PackageName,
    pub version: PackageVersion,
    pub sha512: [u8; 64],
    pub sha1: [u8; 20],
    pub size: u64,
    /// `package/package.json` as read from the tarball (the document the registry receives).
    pub manifest: serde_json::Map<String, serde_json::Value>,
    /// The paths of the file entries, relative to the package root (`package/` removed).
    pub files: Vec<String>,
}

impl PackageTarball {
    pub fn sha512_hex(&self) -> String {
        hex::encode(self.sha512)
    }

    /// `dist.integrity`: `sha512-<base64>`.
    pub fn integrity(&self) -> String {
        format!("sha512-{}", b64_encode(self.sha512))
    }

    /// `dist.shasum`: lowercase hex SHA-1.
    pub fn shasum(&self) -> String {
        hex::encode(self.sha1)
    }

    pub fn purl(&self) -> String {
        purl(&self.name, &self.version)
    }

    pub fn subject(&self) -> Subject {
        Subject { name: self.purl(), sha512_hex: self.sha512_hex() }
    }
}

/// Reads and hashes the tarball at `path`; a bad file is `ExitKind::BadInput` naming it.
pub fn read(path: &Path) -> anyhow::Result<PackageTarball> {
    read_package(path).classify(ExitKind::BadInput, format!("invalid package tarball {}", path.display()))
}

/// Counts and hashes every byte read through it, and fails past `limit` bytes.
struct HashingReader<R> {
    inner: R,
    sha512: Sha512,
    sha1: Sha1,
    size: u64,
    limit: u64,
    over_limit: bool,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha512.update(&buf[..n]);
        self.sha1.update(&buf[..n]);
        self.size += n as u64;
        if self.size > self.limit {
            self.over_limit = true;
            return Err(io::Error::other("the tarball is over its size limit"));
        }
        Ok(n)
    }
}

/// Counts the bytes read through it and fails past `limit` bytes.
struct CappedReader<R> {
    inner: R,
    left: u64,
    over_limit: bool,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => self.left = left,
            None => {
                self.over_limit = true;
                return Err(io::Error::other("the archive is over its unpacked size limit"));
            }
        }
        Ok(n)
    }
}

/// The typed core of [`read`].
pub fn read_package(path: &Path) -> Result<PackageTarball, TarballError> {
    read_package_with_limits(path, Limits::default())
}

/// The caps applied while reading a tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_package_json_bytes: u64,
    pub max_extension_bytes: u64,
    pub max_tarball_bytes: u64,
    pub max_unpacked_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: MAX_ENTRIES,
            max_package_json_bytes: MAX_PACKAGE_JSON_BYTES,
            max_extension_bytes: MAX_HEADER_EXTENSION_BYTES,
            max_tarball_bytes: MAX_TARBALL_BYTES,
            max_unpacked_bytes: MAX_UNPACKED_BYTES,
        }
    }
}

/// [`read_package`] with explicit caps.
pub fn read_package_with_limits(path: &Path, limits: Limits) -> Result<PackageTarball, TarballError> {
    let file = File::open(path).map_err(|source| TarballError::Open { source })?;
    let file_len = file.metadata().map(|m| m.len()).ok();
    let mut hashing = HashingReader {
        inner: file,
        sha512: Sha512::new(),
        sha1: Sha1::new(),
        size: 0,
        limit: limits.max_tarball_bytes,
        over_limit: false,
    };
    let mut magic = [0u8; 2];
    let got = read_up_to(&mut hashing, &mut magic).map_err(|source| TarballError::Read { source })?;
    if got < 2 || magic != [0x1f, 0x8b] {
        return Err(TarballError::NotGzip);
    }
    // After the magic check, so that `verify` can still take a large file of another kind as
    // a plain artifact.
    if file_len.is_some_and(|len| len > limits.max_tarball_bytes) {
        return Err(TarballError::TooLarge { limit: limits.max_tarball_bytes });
    }
    // The magic bytes were hashed as they were read; replay them to the decoder.
    let reader = io::Cursor::new(magic).chain(hashing);
    let decoder = flate2::read::GzDecoder::new(reader);
    let mut unpacked = CappedReader { inner: decoder, left: limits.max_unpacked_bytes, over_limit: false };

    let mut package_json: Option<Vec<u8>> = None;
    let mut files = Vec::new();
    let mut file_name_bytes = 0u64;
    let walked = ustar::walk(&mut unpacked, &limits, |member, data| {
        let is_package_json = {
            let text = String::from_utf8_lossy(&member.path);
            let text = text.strip_prefix("./").unwrap_or(&text);
            if member.entry_type.is_file() {
                file_name_bytes += text.len() as u64;
                if file_name_bytes > MAX_FILE_NAME_BYTES {
                    return Err(TarballError::FileNamesTooLarge { limit: MAX_FILE_NAME_BYTES });
                }
                // The first segment is npm's `package/` (other packers may name it otherwise).
                files.push(text.split_once('/').map(|(_, rest)| rest).unwrap_or(text).to_owned());
            }
            is_package_json_path(text)
        };
        if !is_package_json {
            return Ok(());
        }
        if package_json.is_some() {
            return Err(TarballError::DuplicatePackageJson);
        }
        if !member.entry_type.is_file() {
            return Err(TarballError::PackageJsonNotAFile);
        }
        if member.size > limits.max_package_json_bytes {
            return Err(TarballError::PackageJsonTooLarge { size: member.size, limit: limits.max_package_json_bytes });
        }
        let mut bytes = Vec::with_capacity(member.size.min(64 * 1024) as usize);
        data.take(limits.max_package_json_bytes + 1).read_to_end(&mut bytes).map_err(|e| classify_stream_error(&e))?;
        if bytes.len() as u64 > limits.max_package_json_bytes {
            return Err(TarballError::PackageJsonTooLarge {
                size: bytes.len() as u64,
                limit: limits.max_package_json_bytes,
            });
        }
        package_json = Some(bytes);
        Ok(())
    })
    // The rest of the gzip stream (tar padding after the end-of-archive blocks): reading it to
    // the end makes the decoder check the CRC-32 and length trailer (RFC 1952 §2.3.1).
    .and_then(|()| io::copy(&mut unpacked, &mut io::sink()).map(drop).map_err(|e| classify_stream_error(&e)));
    // A reader that hit its cap failed with a generic error on the way: name the cap instead.
    if let Err(e) = walked {
        if unpacked.inner.get_ref().get_ref().1.over_limit {
            return Err(TarballError::TooLarge { limit: limits.max_tarball_bytes });
        }
        if unpacked.over_limit {
            return Err(TarballError::UnpackedTooLarge { limit: limits.max_unpacked_bytes });
        }
        return Err(e);
    }
    // Anything after the gzip member is still part of the file npm would upload: hash it.
    let (_, mut hashing) = unpacked.inner.into_inner().into_inner();
    if let Err(source) = io::copy(&mut hashing, &mut io::sink()) {
        if hashing.over_limit {
            return Err(TarballError::TooLarge { limit: limits.max_tarball_bytes });
        }
        return Err(TarballError::Read { source });
    }

    let bytes = package_json.ok_or(TarballError::NoPackageJson)?;
    let (name, version, manifest) = parse_manifest(&bytes)?;
    Ok(PackageTarball {
        path: path.to_path_buf(),
        name,
        version,
        sha512: hashing.sha512.finalize().into(),
        sha1: hashing.sha1.finalize().into(),
        size: hashing.size,
        manifest,
        files,
    })
}

/// `<dir>/package.json` for any single top-level directory: npm extracts a package tarball
/// with its first path component stripped, whatever its name (`package/` from `npm pack`,
/// other names in some older tarballs), so that is the manifest npm installs. Two such
/// manifests are refused as duplicates by the caller.
fn is_package_json_path(path: &str) -> bool {
    match path.split_once('/') {
        Some((dir, rest)) => !dir.is_empty() && dir != "." && dir != ".." && rest == "package.json",
        None => false,
    }
}

fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Tells gzip damage from tar damage. flate2 reports a stream that ends early as
/// `UnexpectedEof` and bad deflate data or a CRC mismatch as `InvalidInput`/`InvalidData`;
/// tar reports malformed headers as `Other`.
fn classify_stream_error(e: &io::Error) -> TarballError {
    let text = e.to_string();
    match e.kind() {
        io::ErrorKind::UnexpectedEof => TarballError::Truncated,
        _ if text.contains("unexpected EOF") || text.contains("unexpected end of file") => TarballError::Truncated,
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
            if text.contains("deflate") || text.contains("gzip") =>
        {
            TarballError::CorruptGzip { reason: one_line(&text) }
        }
        _ => TarballError::NotTar { reason: one_line(&text) },
    }
}

/// The first line of a message, at most 100 characters (tar quotes header bytes in its errors).
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > 100 {
        format!("{}...", line.chars().take(100).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// Reads `package.json`: its `name` and `version`, checked as npm does before publishing, and
/// the whole object.
pub fn parse_manifest(
    bytes: &[u8],
) -> Result<(PackageName, PackageVersion, serde_json::Map<String, serde_json::Value>), TarballError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| TarballError::InvalidJson { reason: e.to_string() })?;
    let serde_json::Value::Object(obj) = value else {
        return Err(TarballError::InvalidJson { reason: "not a JSON object".into() });
    };
    let field = |field: &'static str| -> Result<&str, TarballError> {
        match obj.get(field) {
            None | Some(serde_json::Value::Null) => Err(TarballError::MissingField { field }),
            Some(serde_json::Value::String(s)) => Ok(s.as_str()),
            Some(_) => Err(TarballError::FieldNotAString { field }),
        }
    };
    let raw_name = field("name")?;
    let name = PackageName::parse(raw_name)
        .map_err(|source| TarballError::InvalidName { name: raw_name.to_owned(), source })?;
    let version = PackageVersion::clean(field("version")?).map_err(|source| TarballError::InvalidVersion { source })?;
    Ok((name, version, obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_npm_tarball_is_read_and_hashed() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/npm-provenance/tarballs/sigstore-2.0.0.tgz");
        let t = read_package(&path).unwrap();
        assert_eq!(t.name.as_str(), "sigstore");
        assert_eq!(t.version.as_str(), "2.0.0");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(t.sha512.to_vec(), Sha512::digest(&bytes).to_vec());
        assert_eq!(t.sha1.to_vec(), Sha1::digest(&bytes).to_vec());
        assert_eq!(t.size, bytes.len() as u64);
        assert_eq!(t.purl(), "pkg:npm/sigstore@2.0.0");
        assert!(t.integrity().starts_with("sha512-"));
    }

    #[test]
    fn manifest_fields_are_checked() {
        assert!(matches!(parse_manifest(b"{"), Err(TarballError::InvalidJson { .. })));
        assert!(matches!(parse_manifest(b"[]"), Err(TarballError::InvalidJson { .. })));
        assert!(matches!(parse_manifest(br#"{"version":"1.0.0"}"#), Err(TarballError::MissingField { field: "name" })));
        assert!(matches!(parse_manifest(br#"{"name":"a"}"#), Err(TarballError::MissingField { field: "version" })));
        assert!(matches!(
            parse_manifest(br#"{"name":"a","version":1}"#),
            Err(TarballError::FieldNotAString { field: "version" })
        ));
        assert!(matches!(parse_manifest(br#"{"name":"A","version":"1.0.0"}"#), Err(TarballError::InvalidName { .. })));
        assert!(matches!(parse_manifest(br#"{"name":"a","version":"x"}"#), Err(TarballError::InvalidVersion { .. })));
        let (n, v, manifest) = parse_manifest(br#"{"name":"@s/a","version":"v1.0.0"}"#).unwrap();
        assert_eq!(manifest["version"], "v1.0.0");
        assert_eq!((n.as_str(), v.as_str()), ("@s/a", "1.0.0"));
    }
}

#[cfg(test)]
mod bad_tarballs {
    use super::*;

    fn read_bad(name: &str) -> TarballError {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-tarballs").join(name);
        match read_package(&path) {
            Ok(t) => panic!("{name} was accepted as {}@{}", t.name, t.version),
            Err(e) => e,
        }
    }

    #[test]
    fn each_fault_is_refused_with_its_own_reason() {
        use TarballError as E;
        let check = |name: &str, ok: fn(&TarballError) -> bool| {
            let e = read_bad(name);
            assert!(ok(&e), "{name}: {e:?}");
            let text = e.to_string();
            assert!(!text.contains('\n') && text.len() < 300, "{name}: {text:?}");
        };
        check("not-gzip.tgz", |e| matches!(e, E::NotGzip));
        check("empty-file.tgz", |e| matches!(e, E::NotGzip));
        check("tar-not-gzipped.tgz", |e| matches!(e, E::NotGzip));
        check("gzip-not-tar.tgz", |e| matches!(e, E::NotTar { .. }));
        check("no-package-json.tgz", |e| matches!(e, E::NoPackageJson));
        check("package-json-outside-package-dir.tgz", |e| matches!(e, E::NoPackageJson));
        check("package-json-invalid-json.tgz", |e| matches!(e, E::InvalidJson { .. }));
        check("package-json-not-an-object.tgz", |e| matches!(e, E::InvalidJson { .. }));
        check("package-json-missing-name.tgz", |e| matches!(e, E::MissingField { field: "name" }));
        check("package-json-missing-version.tgz", |e| matches!(e, E::MissingField { field: "version" }));
        check("package-json-name-uppercase.tgz", |e| {
            matches!(e, E::InvalidName { source: NameError::NotLowercase, .. })
        });
        check("package-json-name-not-url-safe.tgz", |e| {
            matches!(e, E::InvalidName { source: NameError::NotUrlSafe { .. }, .. })
        });
        check("package-json-name-too-long.tgz", |e| {
            matches!(e, E::InvalidName { source: NameError::TooLong { len: 215 }, .. })
        });
        check("package-json-version-not-semver.tgz", |e| matches!(e, E::InvalidVersion { .. }));
        check("package-json-too-large.tgz", |e| matches!(e, E::PackageJsonTooLarge { .. }));
        check("duplicate-package-json.tgz", |e| matches!(e, E::DuplicatePackageJson));
        check("truncated-midway.tgz", |e| matches!(e, E::Truncated));
        check("truncated-gzip-trailer.tgz", |e| matches!(e, E::Truncated));
        check("truncated-before-package-json.tgz", |e| matches!(e, E::Truncated));
        check("corrupt-deflate-data.tgz", |e| matches!(e, E::CorruptGzip { .. }));
    }

    #[test]
    fn the_caps_apply() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/npm-provenance/tarballs/sigstore-2.0.0.tgz");
        let few = Limits { max_entries: 3, ..Limits::default() };
        assert!(matches!(read_package_with_limits(&path, few), Err(TarballError::TooManyEntries { limit: 3 })));
        let tiny = Limits { max_package_json_bytes: 10, ..Limits::default() };
        assert!(matches!(
            read_package_with_limits(&path, tiny),
            Err(TarballError::PackageJsonTooLarge { limit: 10, .. })
        ));
        assert!(read_package_with_limits(&path, Limits::default()).is_ok());
    }
}
