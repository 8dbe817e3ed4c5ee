//! Parsers for the output of fact commands.

use crate::error::{CoreError, Result};

/// The kind of a filesystem entry, from `stat -c %F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    File,
    Directory,
    Link,
    Socket,
    Other,
}

impl FileType {
    /// Classifies the text `stat -c %F` prints.
    pub fn from_stat(text: &str) -> FileType {
        match text {
            "regular file" | "regular empty file" => FileType::File,
            "directory" => FileType::Directory,
            "symbolic link" => FileType::Link,
            "socket" => FileType::Socket,
            _ => FileType::Other,
        }
    }

    /// The name used by facts: `file`, `directory`, `link`, `socket` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::File => "file",
            FileType::Directory => "directory",
            FileType::Link => "link",
            FileType::Socket => "socket",
            FileType::Other => "other",
        }
    }
}

/// Metadata of an existing path of the expected type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub user: String,
    pub group: String,
    /// The octal permission digits read as a decimal number: `4755` for `rwsr-xr-x`.
    pub mode: u32,
    pub size: u64,
    pub atime: i64,
    pub mtime: i64,
    pub ctime: i64,
    /// The `readlink` output, for links only: bytes, as the file system keeps a link's
    /// target (not necessarily UTF-8).
    pub link_target: Option<Vec<u8>>,
}

/// The result of [`parse_stat`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatResult {
    /// The command failed or printed nothing: the path does not exist.
    Absent,
    /// The path exists but is of another type.
    WrongType(FileType),
    Found(Stat),
}

/// Parses `stat -c '%F|%U|%G|%a|%s|%X|%Y|%Z' -- PATH`, followed for links
/// by a line of `readlink -- PATH` output.
///
/// ```
/// use oxinfra::parse::{parse_stat, StatResult};
///
/// let out = b"directory|root|root|755|4096|1700000000|1700000001|1700000002\n";
/// let StatResult::Found(stat) = parse_stat("directory", out, 0)? else { panic!() };
/// assert_eq!((stat.mode, stat.mtime), (755, 1700000001));
/// assert_eq!(parse_stat("file", out, 0)?, StatResult::WrongType(oxinfra::parse::FileType::Directory));
/// assert_eq!(parse_stat("file", b"", 1)?, StatResult::Absent);
/// assert!(parse_stat("file", b"", 0).is_err()); // stat says it read the path, but printed nothing
/// # Ok::<(), oxinfra::CoreError>(())
/// ```
///
/// A status other than 0 with no output is `Absent` (which statuses mean that is
/// the caller's rule); with output, and no output with status 0, are errors.
pub fn parse_stat(expected: &str, stdout: &[u8], rc: i64) -> Result<StatResult> {
    if rc != 0 {
        if stdout.is_empty() {
            return Ok(StatResult::Absent);
        }
        return Err(CoreError::parse(
            "stat",
            format!("output with exit status {rc}: {:?}", lossy_start(stdout)),
        ));
    }
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(CoreError::parse("stat", "no output with exit status 0".to_string()));
    }
    // the stat line is text; the target after it is any bytes (kept as they are)
    let (first, rest) = match stdout.iter().position(|&b| b == b'\n') {
        Some(at) => (&stdout[..at], &stdout[at + 1..]),
        None => (stdout, &b""[..]),
    };
    let text = String::from_utf8_lossy(first);
    let first: &str = &text;
    let bad = |why: &str| CoreError::parse("stat", format!("{why} in line {first:?}"));
    let fields: Vec<&str> = first.split('|').collect();
    let [kind, user, group, mode, size, atime, mtime, ctime] = fields[..] else {
        return Err(bad(&format!("expected 8 '|'-separated fields, found {}", fields.len())));
    };
    let kind = FileType::from_stat(kind);
    if kind.as_str() != expected {
        return Ok(StatResult::WrongType(kind));
    }
    let number = |name: &str, value: &str| -> Result<i64> {
        value.parse().map_err(|_| bad(&format!("{name} {value:?} is not a whole number")))
    };
    if mode.is_empty() || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad(&format!("mode {mode:?} is not octal")));
    }
    let link_target = (kind == FileType::Link).then(|| rest.strip_suffix(b"\n").unwrap_or(rest).to_vec());
    Ok(StatResult::Found(Stat {
        user: user.to_string(),
        group: group.to_string(),
        mode: mode.parse().map_err(|_| bad(&format!("mode {mode:?} is too long")))?,
        size: u64::try_from(number("size", size)?).map_err(|_| bad("negative size"))?,
        atime: number("atime", atime)?,
        mtime: number("mtime", mtime)?,
        ctime: number("ctime", ctime)?,
        link_target,
    }))
}

/// The first 60 bytes of `text`, lossily decoded, for a message.
fn lossy_start(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(60)]).into_owned()
}

/// The hash printed by `sha1sum` and friends: the first token of the first
/// line if it is exactly `digits` hex digits, lowercased.
///
/// ```
/// use oxinfra::parse::parse_hash;
///
/// assert_eq!(parse_hash(b"\\0a0b  a\\\\nb\n", 4), Some("0a0b".into()));
/// assert_eq!(parse_hash(b"sha1sum: x: No such file\n", 4), None);
/// ```
pub fn parse_hash(stdout: &[u8], digits: usize) -> Option<String> {
    let line = stdout.split(|&b| b == b'\n').next()?;
    let line = line.strip_prefix(b"\\").unwrap_or(line);
    let token = line.split(u8::is_ascii_whitespace).find(|t| !t.is_empty())?;
    (token.len() == digits && token.iter().all(u8::is_ascii_hexdigit))
        .then(|| String::from_utf8_lossy(token).to_ascii_lowercase())
}

/// Output lines, or `None` when `rc == absent_rc`.
///
/// ```
/// use oxinfra::parse::parse_lines;
///
/// assert_eq!(parse_lines(b"a\n\nb\n", 0, 2), Some(vec!["a".into(), "".into(), "b".into()]));
/// assert_eq!(parse_lines(b"", 1, 2), Some(vec![]));
/// assert_eq!(parse_lines(b"", 2, 2), None);
/// ```
pub fn parse_lines(stdout: &[u8], rc: i64, absent_rc: i64) -> Option<Vec<String>> {
    if rc == absent_rc {
        return None;
    }
    if stdout.is_empty() {
        return Some(Vec::new());
    }
    let text = String::from_utf8_lossy(stdout);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Some(text.split('\n').map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! hashes {
        ($($name:ident: $out:expr, $digits:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(parse_hash($out, $digits).as_deref(), $expected);
            }
        )*};
    }

    hashes! {
        sha1: b"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709  -\n", 40
            => Some("da39a3ee5e6b4b0d3255bfef95601890afd80709");
        too_short: b"abc  -\n", 40 => None;
        not_hex: b"zz  -\n", 2 => None;
        escaped: b"\\ab  a\\nb\n", 2 => Some("ab");
        leading_space: b"  ab  -", 2 => Some("ab");
        empty: b"", 2 => None;
        error_text: b"sha1sum: f: No such file or directory\n", 40 => None;
        second_line_ignored: b"\nab\n", 2 => None;
    }

    macro_rules! stat_errors {
        ($($name:ident: $out:expr => $needle:expr;)*) => {$(
            #[test]
            fn $name() {
                let err = parse_stat("file", $out, 0).unwrap_err().to_string();
                assert!(err.contains($needle), "{err:?} lacks {:?}", $needle);
            }
        )*};
    }

    stat_errors! {
        too_few_fields: b"regular file|root|root|644\n" => r#"found 4 in line "regular file|root|root|644""#;
        too_many_fields: b"regular file|a|b|644|1|2|3|4|5\n" => "found 9";
        bad_mode: b"regular file|a|b|9x|1|2|3|4\n" => "mode \"9x\" is not octal";
        bad_time: b"regular file|a|b|644|1|2|x|4\n" => "mtime \"x\" is not a whole number";
        negative_size: b"regular file|a|b|644|-1|2|3|4\n" => "negative size";
        nothing: b"" => "no output with exit status 0";
        blank: b" \n" => "no output with exit status 0";
    }

    #[test]
    fn output_with_a_failure_status_is_an_error() {
        let err = parse_stat("file", b"regular file|a|b|644|1|2|3|4\n", 1).unwrap_err().to_string();
        assert!(err.contains("output with exit status 1"), "{err}");
        assert_eq!(parse_stat("file", b"", 2).unwrap(), StatResult::Absent); // the caller's rule decides
    }

    #[test]
    fn link_without_target_line() {
        let StatResult::Found(stat) = parse_stat("link", b"symbolic link|a|b|777|3|1|2|3", 0).unwrap() else {
            panic!()
        };
        assert_eq!(stat.link_target.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn link_target_keeps_bytes_that_are_not_utf8() {
        let out = b"symbolic link|a|b|777|3|1|2|3\n/a\xff\n";
        let StatResult::Found(stat) = parse_stat("link", out, 0).unwrap() else { panic!() };
        assert_eq!(stat.link_target.as_deref(), Some(&b"/a\xff"[..]));
    }

    #[test]
    fn garbage_of_wrong_type_is_still_an_error() {
        assert!(parse_stat("file", b"garbage\n", 0).is_err());
    }
}
