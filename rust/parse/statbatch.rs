//! Splitting the output of one `stat` process that read many paths, and of the
//! `readlink` of each link among them, into what each path's own fact command
//! (`oxinfra.facts.files.File.command`) prints: the `stat` line, then for a link
//! what `readlink` printed, status 0 (2 if `readlink` failed); nothing and
//! status 1 for a path the script proved absent; nothing and status 2 for any
//! other path `stat` did not print (its failure is never "absent").
//!
//! The script prints three sections. The first lists the paths proven absent
//! (neither there nor a link, and their nearest existing ancestor a directory
//! that may be searched): one line per path, its position `i` in the script.
//! The second is `stat -c '%n|FORMAT'` output for the other paths: one line
//! per path `stat` could read, the path, `|`, then the eight `|`-separated
//! fields of `FORMAT` (the path itself may hold `|`, never a newline). The
//! third holds one block per path that is a link:
//!
//! ```text
//! \n@@L-<nonce>-<i>\n<readlink output>\n@@R-<nonce>-<readlink's exit status>\n
//! ```
//!
//! Anything else in any section is an error: a path reads as absent only when
//! the first section says so, never because its `stat` line is missing or
//! garbled.

use crate::error::{CoreError, Result};
use std::collections::HashMap;

/// What one path's own fact command prints, and its exit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStat {
    /// The `stat` line without the path (newline included), then for a link
    /// what `readlink` printed; empty when `stat` did not print the path.
    pub stdout: Vec<u8>,
    /// 0; 1 when the path is proven absent; 2 when `stat` did not print a path
    /// that is not proven absent, or `readlink` failed.
    pub rc: i32,
}

/// The status of a path proven absent.
pub const ABSENT: i32 = 1;
/// The status of a path `stat` (or `readlink`) failed on, not proven absent.
pub const FAILED: i32 = 2;

/// Splits the three sections of a batched `stat` (see the module docs) into
/// one [`PathStat`] per entry of `paths`, in that order.
///
/// ```
/// use oxinfra::parse::{split_stat_batch, PathStat};
///
/// let stat = b"/l|symbolic link|u|g|777|2|1|2|3\n";
/// let links = b"\n@@L-N-1\n/t\n\n@@R-N-0\n";
/// let paths = [b"/absent".as_slice(), b"/l", b"/hidden"];
/// let out = split_stat_batch(b"0\n", stat, links, "N", &paths)?;
/// assert_eq!(out[0], PathStat { stdout: b"".to_vec(), rc: 1 });
/// assert_eq!(out[1].stdout, b"symbolic link|u|g|777|2|1|2|3\n/t\n");
/// assert_eq!(out[2], PathStat { stdout: b"".to_vec(), rc: 2 });
/// assert!(split_stat_batch(b"", b"/l|garbled\n", b"", "N", &[b"/l"]).is_err());
/// # Ok::<(), oxinfra::CoreError>(())
/// ```
pub fn split_stat_batch<P: AsRef<[u8]>>(
    absent: &[u8],
    stat: &[u8],
    links: &[u8],
    nonce: &str,
    paths: &[P],
) -> Result<Vec<PathStat>> {
    let proven = absent_paths(absent, paths.len())?;
    let position: HashMap<&[u8], usize> = paths.iter().enumerate().map(|(i, p)| (p.as_ref(), i)).collect();
    let mut records: Vec<Option<&[u8]>> = vec![None; paths.len()];
    let mut stat_lines = stat.split(|&b| b == b'\n');
    let last = stat_lines.next_back().unwrap_or_default();
    if !last.is_empty() {
        return Err(bad(format!("the last line {} has no newline", quoted(last))));
    }
    for line in stat_lines {
        let Some(cut) = field_start(line) else {
            return Err(bad(format!(
                "line {} does not have a path and 8 '|'-separated fields",
                quoted(line)
            )));
        };
        let path = &line[..cut - 1];
        let Some(&i) = position.get(path) else {
            return Err(bad(format!("line {} names a path that was not asked for", quoted(line))));
        };
        if proven[i] {
            return Err(bad(format!("path {} is printed, yet proven absent", quoted(path))));
        }
        if records[i].replace(&line[cut..]).is_some() {
            return Err(bad(format!("path {} is printed twice", quoted(path))));
        }
    }
    let mut targets: Vec<Option<(&[u8], i32)>> = vec![None; paths.len()];
    let tags = (format!("\n@@L-{nonce}-").into_bytes(), format!("\n@@R-{nonce}-").into_bytes());
    let mut rest = links;
    while !rest.is_empty() {
        let (i, target, rc) = link_block(&mut rest, &tags)?;
        let Some(slot) = targets.get_mut(i) else {
            return Err(bad(format!("link block {i} is for no path (there are {})", paths.len())));
        };
        if slot.replace((target, rc)).is_some() {
            return Err(bad(format!("link block {i} appears twice")));
        }
    }
    // A link block of a path stat did not print is ignored: the path became a link after
    // the script looked at it (its own command would not have run readlink either).
    Ok(records
        .iter()
        .zip(&targets)
        .zip(&proven)
        .map(|((record, target), &proven)| match record {
            None => PathStat { stdout: Vec::new(), rc: if proven { ABSENT } else { FAILED } },
            Some(record) => {
                let (target, rc) = target.unwrap_or((b"", 0));
                let mut stdout = Vec::with_capacity(record.len() + 1 + target.len());
                stdout.extend_from_slice(record);
                stdout.push(b'\n');
                stdout.extend_from_slice(target);
                PathStat { stdout, rc: if rc == 0 { 0 } else { FAILED } }
            }
        })
        .collect())
}

/// Which of `count` paths the first section proves absent: each line is one
/// path's position, at most once.
fn absent_paths(section: &[u8], count: usize) -> Result<Vec<bool>> {
    let mut proven = vec![false; count];
    let mut rest = section;
    while !rest.is_empty() {
        let (line, tail) = split_line(rest)
            .ok_or_else(|| bad(format!("absent path line {} has no newline", quoted(rest))))?;
        let i: usize = number(line, "absent path index")?;
        let Some(slot) = proven.get_mut(i) else {
            return Err(bad(format!("absent path {i} is no path (there are {count})")));
        };
        if std::mem::replace(slot, true) {
            return Err(bad(format!("absent path {i} appears twice")));
        }
        rest = tail;
    }
    Ok(proven)
}

/// Where the 8 fields of a `%n|FORMAT` line start (after the path's `|`), if
/// the line has a path and 8 fields.
fn field_start(line: &[u8]) -> Option<usize> {
    let mut bars = line.iter().enumerate().rev().filter(|&(_, &b)| b == b'|').map(|(i, _)| i);
    bars.nth(7).map(|i| i + 1)
}

/// Takes the link block at the start of `data` off it: `(index, target, rc)`.
fn link_block<'a>(
    data: &mut &'a [u8],
    (start_tag, end_tag): &(Vec<u8>, Vec<u8>),
) -> Result<(usize, &'a [u8], i32)> {
    let Some(header) = data.strip_prefix(start_tag.as_slice()) else {
        return Err(bad(format!("unexpected output {} among the link targets", quoted(data))));
    };
    let (index, body) =
        split_line(header).ok_or_else(|| bad(format!("link header {} has no newline", quoted(header))))?;
    let index = number(index, "link index")?;
    let close = find(body, end_tag).ok_or_else(|| bad(format!("link block {index} has no end line")))?;
    let (target, tail) = (&body[..close], &body[close + end_tag.len()..]);
    let (rc, rest) =
        split_line(tail).ok_or_else(|| bad(format!("link block {index}: end line has no newline")))?;
    let rc = number(rc, "readlink exit status")?;
    *data = rest;
    Ok((index, target, rc))
}

/// `(line, rest)` split at the first newline, which belongs to neither.
fn split_line(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = data.iter().position(|&b| b == b'\n')?;
    Some((&data[..at], &data[at + 1..]))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decimal digits that fit in `T`.
fn number<T: std::str::FromStr>(digits: &[u8], what: &str) -> Result<T> {
    let parsed = (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
        .then(|| std::str::from_utf8(digits).ok()?.parse().ok())
        .flatten();
    parsed.ok_or_else(|| bad(format!("{what} {} is not a small whole number", quoted(digits))))
}

fn bad(message: String) -> CoreError {
    CoreError::parse("batched stat", message)
}

/// `text` quoted for a one-line message, cut after 60 bytes.
fn quoted(text: &[u8]) -> String {
    const MAX: usize = 60;
    let cut = &text[..text.len().min(MAX)];
    let more = if text.len() > MAX { "..." } else { "" };
    format!("{:?}{more}", String::from_utf8_lossy(cut))
}

// The cases are JSON fixtures shared with the Python tests: tests/parse/stat_batch/.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_in_messages() {
        let stat = format!("{}\n", "x".repeat(500));
        let err = split_stat_batch(b"", stat.as_bytes(), b"", "N", &[b"/a"]).unwrap_err().to_string();
        assert!(err.len() < 200 && err.contains("\"... does not have"), "{err}");
    }

    #[test]
    fn paths_may_be_owned_or_borrowed() {
        let owned = vec![b"/a".to_vec()];
        let got = split_stat_batch(b"", b"/a|f|u|g|644|1|2|3|4\n", b"", "N", &owned).unwrap();
        assert_eq!(got, [PathStat { stdout: b"f|u|g|644|1|2|3|4\n".to_vec(), rc: 0 }]);
    }
}
