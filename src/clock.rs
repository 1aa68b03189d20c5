//! The one clock seam: the edge reads the system clock here and passes `UnixTime` into the
//! pure core, which never reads a clock itself.

use crate::core::time::UnixTime;
use crate::error::{fail, ExitKind};

/// The current time, read at the edge.
pub fn now() -> anyhow::Result<UnixTime> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| fail(ExitKind::Environment, "the system clock is before 1970"))?;
    Ok(UnixTime(since.as_secs() as i64))
}
