//! npm in the pure core: package identity here; the provenance statement (`statement`), the
//! publish document and registry answers (`publish`), `.npmrc` (`npmrc`), repository URLs
//! (`repository`) and the provenance preflight (`preflight`) in submodules.
//!
//! npm package identity: names, versions, package URLs and registry-escaped names.
//!
//! Names follow npm's rules for new packages (`validate-npm-package-name`, `normalize-package-data`
//! `fixNameField`); versions are cleaned as `semver.clean` does before npm publishes
//! (libnpmpublish `patchManifest`); the purl is `npa.toPurl` (npm-provenance.md §2.2).

pub mod changesets;
pub mod npmrc;
pub mod order;
pub mod pack;
pub mod preflight;
pub mod publish;
pub mod repository;
pub mod statement;
pub mod trusted;

use std::fmt;

/// The longest package name npm accepts.
pub const MAX_NAME_LEN: usize = 214;

/// Names npm refuses outright.
const BLOCKED_NAMES: [&str; 2] = ["node_modules", "favicon.ico"];

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    Empty,
    TooLong {
        len: usize,
    },
    LeadingDotOrUnderscore,
    SurroundingSpaces,
    NotLowercase,
    Blocked,
    /// A character outside the URL-safe set (what `encodeURIComponent` leaves alone).
    NotUrlSafe {
        ch: char,
    },
    /// One of `~'!()*`, refused for new packages.
    SpecialCharacter {
        ch: char,
    },
    /// `@scope/name` with an empty or malformed part.
    BadScope,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("name is empty"),
            Self::TooLong { len } => write!(f, "name is {len} characters long, npm allows at most {MAX_NAME_LEN}"),
            Self::LeadingDotOrUnderscore => f.write_str("name cannot start with a period or an underscore"),
            Self::SurroundingSpaces => f.write_str("name cannot have leading or trailing spaces"),
            Self::NotLowercase => f.write_str("name cannot contain capital letters"),
            Self::Blocked => f.write_str("name is reserved by npm"),
            Self::NotUrlSafe { ch } => write!(f, "name can only contain URL-friendly characters, found {ch:?}"),
            Self::SpecialCharacter { ch } => {
                write!(f, "name cannot contain the special character {ch:?}")
            }
            Self::BadScope => f.write_str("scoped name must have the form @scope/name"),
        }
    }
}

impl std::error::Error for NameError {}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionError {
    NotSemver { version: String, reason: String },
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSemver { version, reason } => {
                write!(f, "version {version:?} is not valid semver: {reason}")
            }
        }
    }
}

impl std::error::Error for VersionError {}

/// A validated package name, scoped (`@scope/name`) or not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageName(String);

impl PackageName {
    /// Checks `name` against npm's rules for publishing a new package.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong { len: name.len() });
        }
        if name.starts_with('.') || name.starts_with('_') {
            return Err(NameError::LeadingDotOrUnderscore);
        }
        if name.trim() != name {
            return Err(NameError::SurroundingSpaces);
        }
        if BLOCKED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(NameError::Blocked);
        }
        if name.to_lowercase() != name {
            return Err(NameError::NotLowercase);
        }
        let bare = match name.strip_prefix('@') {
            Some(rest) => {
                let Some((scope, bare)) = rest.split_once('/') else {
                    return Err(NameError::BadScope);
                };
                if scope.is_empty() || bare.is_empty() || bare.contains('/') {
                    return Err(NameError::BadScope);
                }
                check_url_safe(scope)?;
                check_url_safe(bare)?;
                if bare.starts_with('.') || bare.starts_with('_') {
                    return Err(NameError::LeadingDotOrUnderscore);
                }
                bare
            }
            None => {
                check_url_safe(name)?;
                name
            }
        };
        if let Some(ch) = bare.chars().find(|c| "~'!()*".contains(*c)) {
            return Err(NameError::SpecialCharacter { ch });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scope without `@`, when the name is scoped.
    pub fn scope(&self) -> Option<&str> {
        self.0.strip_prefix('@').and_then(|rest| rest.split_once('/')).map(|(scope, _)| scope)
    }

    /// The name as it appears in registry URLs: `@scope%2fname` (npm-package-arg `escapedName`).
    pub fn escaped(&self) -> String {
        self.0.replacen('/', "%2f", 1)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `encodeURIComponent` leaves exactly `A-Z a-z 0-9 - _ . ! ~ * ' ( )` unescaped.
fn check_url_safe(part: &str) -> Result<(), NameError> {
    match part.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.!~*'()".contains(*c))) {
        Some(ch) => Err(NameError::NotUrlSafe { ch }),
        None => Ok(()),
    }
}

/// A version as npm publishes it: `semver.clean` output (no leading `v`/`=`, no build metadata).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageVersion(String);

impl PackageVersion {
    /// `semver.clean`: trim, strip leading `=` and `v` characters, parse strictly, and format
    /// without build metadata (node-semver's `SemVer.version`).
    pub fn clean(raw: &str) -> Result<Self, VersionError> {
        let stripped = raw.trim().trim_start_matches(['=', 'v']);
        let mut parsed = semver::Version::parse(stripped)
            .map_err(|e| VersionError::NotSemver { version: raw.to_owned(), reason: e.to_string() })?;
        parsed.build = semver::BuildMetadata::EMPTY;
        Ok(Self(parsed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `pkg:npm/<name>@<version>`, the scope's `@` written `%40` and its `/` kept (npa `toPurl`
/// without a registry qualifier, npm-provenance.md §2.2).
pub fn purl(name: &PackageName, version: &PackageVersion) -> String {
    let name = match name.as_str().strip_prefix('@') {
        Some(rest) => format!("%40{rest}"),
        None => name.as_str().to_owned(),
    };
    format!("pkg:npm/{name}@{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_accepted() {
        for n in ["hello-npm", "@scope/pkg", "a", "x.y_z-1", "@npm-attest/hello.js"] {
            assert_eq!(PackageName::parse(n).unwrap().as_str(), n);
        }
        assert!(PackageName::parse(&"a".repeat(214)).is_ok());
    }

    #[test]
    fn invalid_names_are_refused_with_the_reason() {
        let cases: [(&str, NameError); 14] = [
            ("", NameError::Empty),
            (".hidden", NameError::LeadingDotOrUnderscore),
            ("_private", NameError::LeadingDotOrUnderscore),
            (" spaced", NameError::SurroundingSpaces),
            ("Upper", NameError::NotLowercase),
            ("node_modules", NameError::Blocked),
            ("favicon.ico", NameError::Blocked),
            ("a b", NameError::NotUrlSafe { ch: ' ' }),
            ("caf\u{e9}", NameError::NotUrlSafe { ch: '\u{e9}' }),
            ("no/slash", NameError::NotUrlSafe { ch: '/' }),
            ("@scope", NameError::BadScope),
            ("@/name", NameError::BadScope),
            ("@s/a/b", NameError::BadScope),
            ("wow!", NameError::SpecialCharacter { ch: '!' }),
        ];
        for (name, expected) in cases {
            assert_eq!(PackageName::parse(name), Err(expected), "{name:?}");
        }
        assert_eq!(PackageName::parse(&"a".repeat(215)), Err(NameError::TooLong { len: 215 }));
    }

    #[test]
    fn versions_are_cleaned_like_semver_clean() {
        for (raw, clean) in [
            ("1.2.3", "1.2.3"),
            ("v1.2.3", "1.2.3"),
            ("=v1.2.3", "1.2.3"),
            (" 1.0.0-beta.1 ", "1.0.0-beta.1"),
            ("1.0.0+build.5", "1.0.0"),
        ] {
            assert_eq!(PackageVersion::clean(raw).unwrap().as_str(), clean, "{raw:?}");
        }
        for bad in ["", "1.2", "latest", "01.2.3", "1.2.3.4"] {
            assert!(PackageVersion::clean(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn purl_escapes_only_the_scope_at() {
        let v = PackageVersion::clean("0.1.1").unwrap();
        assert_eq!(purl(&PackageName::parse("@playwright/cli").unwrap(), &v), "pkg:npm/%40playwright/cli@0.1.1");
        assert_eq!(purl(&PackageName::parse("sigstore").unwrap(), &v), "pkg:npm/sigstore@0.1.1");
    }

    #[test]
    fn escaped_name_and_scope() {
        let name = PackageName::parse("@scope/pkg").unwrap();
        assert_eq!(name.escaped(), "@scope%2fpkg");
        assert_eq!(name.scope(), Some("scope"));
    }
}
