//! The tar walk behind [`super::read_package`]: our own loop over the 512-byte blocks of a
//! ustar/GNU/PAX stream, with the `tar` crate used only to decode the fields of one header.
//!
//! Why not `tar::Archive::entries()`: it reads a GNU long name or long link (`L`/`K`) and a PAX
//! extended header (`x`) whole into memory, at whatever size the header declares, before the
//! caller sees the entry (a 3 MB gzip file declaring a 3 GB long name took 3.2 GB of memory).
//! Its raw mode does not expand them, but it also ignores a PAX `size` record, so it would find
//! the next header somewhere other than npm's tar (node-tar) does. Here every extension header
//! is checked against [`Limits::max_extension_bytes`] before a byte of it is read, members are
//! skipped by streaming into a sink, and nothing is allocated in proportion to a declared size.
//!
//! The meaning of each header follows POSIX.1-2008 `pax` (ustar format and the `x`/`g`
//! extended headers) and GNU tar's `L`/`K` long-name extensions, resolved as node-tar does:
//! the extension headers describe the one member that follows them.

use std::borrow::Cow;
use std::io::{self, Read};

use super::{classify_stream_error, Limits, TarballError};

const BLOCK: usize = 512;

/// One archive member (not an extension header), as npm's tar would see it.
pub(super) struct Member {
    /// The path after the GNU long name or PAX `path` record, if either was given.
    pub path: Vec<u8>,
    pub entry_type: tar::EntryType,
    /// The data size after a PAX `size` record, if one was given.
    pub size: u64,
}

/// The extension headers seen since the last member.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: bool,
    pax_path: Option<Vec<u8>>,
    pax_size: Option<u64>,
    pax_seen: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && !self.long_link && !self.pax_seen
    }
}

fn not_tar(reason: impl Into<String>) -> TarballError {
    TarballError::NotTar { reason: reason.into() }
}

/// Walks the tar stream `r` to its end-of-archive block (or the end of the stream), calling
/// `visit` for every member with a reader limited to the member's data; whatever `visit` leaves
/// unread is skipped. Every header, extension headers included, counts toward
/// `limits.max_entries`.
pub(super) fn walk<R: Read>(
    r: &mut R,
    limits: &Limits,
    mut visit: impl FnMut(&Member, &mut dyn Read) -> Result<(), TarballError>,
) -> Result<(), TarballError> {
    let mut headers = 0usize;
    let mut pending = Pending::default();
    loop {
        let mut header = tar::Header::new_old();
        let got = read_full(r, header.as_mut_bytes())?;
        if got == 0 || header.as_bytes().iter().all(|b| *b == 0) {
            // End of archive: two zero blocks (or, as the tar crate and node-tar accept, the
            // end of the stream at a header boundary).
            if !pending.is_empty() {
                return Err(not_tar("extension headers at the end of the archive describe no member"));
            }
            return Ok(());
        }
        if got < BLOCK {
            return Err(not_tar("the archive ends inside a header block"));
        }
        headers += 1;
        if headers > limits.max_entries {
            return Err(TarballError::TooManyEntries { limit: limits.max_entries });
        }
        check_checksum(&header)?;
        let entry_type = header.entry_type();
        let declared = header.entry_size().map_err(|e| not_tar(super::one_line(&e.to_string())))?;

        let extension = match entry_type {
            tar::EntryType::GNULongName => Some("GNU long name (type L)"),
            tar::EntryType::GNULongLink => Some("GNU long link (type K)"),
            tar::EntryType::XHeader => Some("PAX extended header (type x)"),
            tar::EntryType::XGlobalHeader => Some("PAX global header (type g)"),
            _ => None,
        };
        if let Some(kind) = extension {
            // The cap is checked on the declared size, before any of the data is read.
            if declared > limits.max_extension_bytes {
                return Err(TarballError::HeaderExtensionTooLarge {
                    kind,
                    size: declared,
                    limit: limits.max_extension_bytes,
                });
            }
            // Bounded by the check above (a few KiB), not by the file.
            let mut data = vec![0u8; declared as usize];
            if read_full(r, &mut data)? < data.len() {
                return Err(TarballError::Truncated);
            }
            skip_padding(r, declared)?;
            match entry_type {
                tar::EntryType::GNULongName => {
                    if pending.long_name.is_some() {
                        return Err(not_tar("two GNU long names describe the same member"));
                    }
                    pending.long_name = Some(until_nul(&data).to_vec());
                }
                tar::EntryType::GNULongLink => {
                    if pending.long_link {
                        return Err(not_tar("two GNU long links describe the same member"));
                    }
                    pending.long_link = true;
                }
                tar::EntryType::XHeader => {
                    if pending.pax_seen {
                        return Err(not_tar("two PAX extended headers describe the same member"));
                    }
                    pending.pax_seen = true;
                    for (key, value) in pax_records(&data)? {
                        match key {
                            b"path" => pending.pax_path = Some(value.to_vec()),
                            b"size" => pending.pax_size = Some(pax_size(value)?),
                            _ => {}
                        }
                    }
                }
                _ => {
                    // A global header applies to every later member in node-tar; one that
                    // renamed or resized them would make the archive read differently by
                    // readers that ignore it, and `npm pack` never writes one.
                    for (key, _) in pax_records(&data)? {
                        if key == b"path" || key == b"size" {
                            return Err(not_tar(format!(
                                "a PAX global header sets \"{}\", which npm tarballs never do",
                                String::from_utf8_lossy(key)
                            )));
                        }
                    }
                }
            }
            continue;
        }
        if entry_type == tar::EntryType::GNUSparse {
            // Its data layout continues in further header blocks; `npm pack` never writes one.
            return Err(not_tar("a GNU sparse member, which npm tarballs never contain"));
        }

        let path = match (pending.long_name.take(), pending.pax_path.take()) {
            (Some(_), Some(_)) => {
                // node-tar takes whichever came last, other readers prefer the PAX path.
                return Err(not_tar("a member has both a GNU long name and a PAX path"));
            }
            (Some(long), None) => long,
            (None, Some(pax)) => pax,
            (None, None) => match header.path_bytes() {
                Cow::Borrowed(b) => b.to_vec(),
                Cow::Owned(b) => b,
            },
        };
        // POSIX: a PAX `size` record overrides the header's size field.
        let size = pending.pax_size.take().unwrap_or(declared);
        pending = Pending::default();
        let member = Member { path, entry_type, size };
        let mut data = (&mut *r).take(size);
        visit(&member, &mut data)?;
        io::copy(&mut data, &mut io::sink()).map_err(|e| classify_stream_error(&e))?;
        if data.limit() > 0 {
            return Err(TarballError::Truncated);
        }
        skip_padding(r, size)?;
    }
}

/// The header checksum: the byte sum of the header with the checksum field read as spaces.
fn check_checksum(header: &tar::Header) -> Result<(), TarballError> {
    let bytes = header.as_bytes();
    let sum: u32 = bytes[..148].iter().chain(&bytes[156..]).map(|b| u32::from(*b)).sum::<u32>() + 8 * 32;
    let stated = header.cksum().map_err(|e| not_tar(super::one_line(&e.to_string())))?;
    if sum != stated {
        return Err(not_tar("archive header checksum mismatch"));
    }
    Ok(())
}

/// Reads until `buf` is full or the stream ends; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, TarballError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(classify_stream_error(&e)),
        }
    }
    Ok(filled)
}

/// Skips the zero padding after `size` bytes of data, up to the next 512-byte boundary.
fn skip_padding(r: &mut impl Read, size: u64) -> Result<(), TarballError> {
    let padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
    let mut buf = [0u8; BLOCK];
    // At most 511 bytes: the cast cannot truncate.
    let want = padding as usize;
    if read_full(r, &mut buf[..want])? < want {
        return Err(TarballError::Truncated);
    }
    Ok(())
}

/// A GNU long name is NUL-terminated; node-tar cuts it at the first NUL.
fn until_nul(data: &[u8]) -> &[u8] {
    match data.iter().position(|b| *b == 0) {
        Some(i) => &data[..i],
        None => data,
    }
}

/// One `keyword=value` record of a PAX extended header.
pub(super) type PaxRecord<'a> = (&'a [u8], &'a [u8]);

/// The records of a PAX extended header: `"%d %s=%s\n", <length>, <keyword>, <value>`, where
/// the length counts the whole record (POSIX.1-2008 `pax`, "pax Extended Header").
pub(super) fn pax_records(mut data: &[u8]) -> Result<Vec<PaxRecord<'_>>, TarballError> {
    let malformed = || not_tar("malformed PAX extended header record");
    let mut records = Vec::new();
    // Trailing NULs pad some writers' headers.
    while let Some(&first) = data.first() {
        if first == 0 {
            break;
        }
        let space = data.iter().position(|b| *b == b' ').ok_or_else(malformed)?;
        let digits = &data[..space];
        if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(malformed());
        }
        let len: usize = std::str::from_utf8(digits).ok().and_then(|s| s.parse().ok()).ok_or_else(malformed)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(malformed());
        }
        let body = &data[space + 1..len - 1];
        let eq = body.iter().position(|b| *b == b'=').ok_or_else(malformed)?;
        records.push((&body[..eq], &body[eq + 1..]));
        data = &data[len..];
    }
    Ok(records)
}

fn pax_size(value: &[u8]) -> Result<u64, TarballError> {
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return Err(not_tar("a PAX size record is not a decimal number"));
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| not_tar("a PAX size record is not a decimal number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_are_split_by_their_length() {
        let data = b"21 path=package/a.js\n11 size=42\n";
        let records = pax_records(data).unwrap();
        assert_eq!(records, vec![(&b"path"[..], &b"package/a.js"[..]), (&b"size"[..], &b"42"[..])]);
        // A value may hold a newline: the length, not the newline, ends the record.
        assert_eq!(pax_records(b"10 a=b\nc\n\n").unwrap(), vec![(&b"a"[..], &b"b\nc\n"[..])]);
        for bad in [&b"x"[..], b"5 a=b\n", b"99 a=b\n", b"6 ab\n\n", b"7 a=bc ", b" 6 a=b\n", b"0 \n"] {
            assert!(matches!(pax_records(bad), Err(TarballError::NotTar { .. })), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(pax_size(b"18446744073709551616").is_err());
        assert!(pax_size(b"-1").is_err());
        assert_eq!(pax_size(b"18446744073709551615").unwrap(), u64::MAX);
    }
}
