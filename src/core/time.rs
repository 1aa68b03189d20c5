//! Time as data: Unix seconds passed in by the edge, RFC 3339 parsing, and the inclusive
//! validity windows of trusted-root `validFor` ranges (sigstore-protocol.md §2.2).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::core::wire::trust_root::TimeRange;

/// Seconds since the Unix epoch. The core never reads a clock: callers pass this in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    pub fn seconds(self) -> i64 {
        self.0
    }

    /// RFC 3339 with a `Z` offset, seconds precision.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeError {
    Invalid { text: String },
    MissingStart,
}

impl std::fmt::Display for TimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { text } => write!(f, "{text:?} is not an RFC 3339 time"),
            Self::MissingStart => f.write_str("validity range has no start"),
        }
    }
}

impl std::error::Error for TimeError {}

pub fn parse_rfc3339(text: &str) -> Result<UnixTime, TimeError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| UnixTime(t.unix_timestamp()))
        .map_err(|_| TimeError::Invalid { text: text.to_owned() })
}

/// A parsed `validFor`: both ends inclusive, `end` open when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: UnixTime,
    pub end: Option<UnixTime>,
}

impl Validity {
    /// Parses a `TimeRange`; a missing `start` is an error (conformance
    /// `trust-root-tlog-missing-validity-start_fail`).
    pub fn from_range(range: &TimeRange) -> Result<Self, TimeError> {
        let start = parse_rfc3339(range.start.as_deref().ok_or(TimeError::MissingStart)?)?;
        let end = range.end.as_deref().map(parse_rfc3339).transpose()?;
        Ok(Self { start, end })
    }

    /// Inclusive at both ends (conformance `trust-root-tlog-validity-end-inclusive`).
    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_inclusive_and_requires_a_start() {
        let v = Validity::from_range(&TimeRange {
            start: Some("2021-01-12T11:53:27Z".into()),
            end: Some("2022-01-01T00:00:00.000Z".into()),
        })
        .unwrap();
        assert!(v.contains(UnixTime(1610452407)));
        assert!(v.contains(UnixTime(1640995200)));
        assert!(!v.contains(UnixTime(1640995201)));
        assert!(!v.contains(UnixTime(1610452406)));
        assert_eq!(Validity::from_range(&TimeRange { start: None, end: None }), Err(TimeError::MissingStart));
    }
}
