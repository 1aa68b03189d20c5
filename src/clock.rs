//! The one clock seam: the edge reads the system clock here and passes `UnixTime` into the
//! pure core, which never reads a clock itself. (Retry deadlines measure elapsed time with the
//! monotonic `Instant`, which is not a wall clock and does not belong here.)

use std::time::Duration;

use crate::core::time::UnixTime;
use crate::error::{fail, ExitKind};

/// The time since the Unix epoch, or zero for a system clock set before 1970.
pub fn since_epoch() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

/// The current time, read at the edge; a clock before 1970 is an environment error.
pub fn now() -> anyhow::Result<UnixTime> {
    let since = since_epoch();
    if since.is_zero() {
        return Err(fail(ExitKind::Environment, "the system clock is before 1970"));
    }
    Ok(UnixTime(i64::try_from(since.as_secs()).unwrap_or(i64::MAX)))
}

/// The current time as an RFC 3339-capable date (HTTP dates, `Retry-After`).
pub fn now_utc() -> time::OffsetDateTime {
    let nanos = i128::try_from(since_epoch().as_nanos()).unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
