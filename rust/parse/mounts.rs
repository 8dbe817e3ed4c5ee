//! The parser of `/proc/self/mountinfo` (Linux), for the `server.Mounts` fact.
//!
//! Each line: mount id, parent id, `major:minor`, root, mount point, mount options,
//! optional fields ended by `-`, file system type, source, super block options. The mount
//! point, source and super options have `\ooo` octal escapes (space, tab, newline,
//! backslash), undone here; super options `ro`/`rw` are left out (the mount options say
//! it). A line of another shape is a parse error naming it; bytes that are not UTF-8
//! become U+FFFD. A mount point mounted twice: the later (upper) line wins.
//!
//! ```
//! use oxinfra::parse::parse_mountinfo;
//!
//! let out = b"29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n";
//! let m = parse_mountinfo(out)?;
//! assert_eq!(m[0].path, "/");
//! assert_eq!((m[0].device.as_str(), m[0].fs_type.as_str()), ("/dev/sda1", "ext4"));
//! assert_eq!(m[0].options, vec!["rw", "relatime", "errors=remount-ro"]);
//! # Ok::<(), oxinfra::CoreError>(())
//! ```

use crate::error::{CoreError, Result};

/// One mounted file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub path: String,
    pub device: String,
    pub fs_type: String,
    /// The mount options, then the super block options other than `ro`/`rw`.
    pub options: Vec<String>,
}

/// `\ooo` (three octal digits) as the character of that code; anything else as it is.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
        {
            let code = u32::from(bytes[i + 1] - b'0') * 64
                + u32::from(bytes[i + 2] - b'0') * 8
                + u32::from(bytes[i + 3] - b'0');
            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            i += 4;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Every mount of `/proc/self/mountinfo` output, in order (see the module docs).
pub fn parse_mountinfo(stdout: &[u8]) -> Result<Vec<Mount>> {
    let text = String::from_utf8_lossy(stdout);
    let mut out: Vec<Mount> = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = || {
            let shown: String = line.chars().take(80).collect();
            CoreError::parse("mountinfo", format!("line {}: not a mountinfo line: {shown:?}", n + 1))
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let dash = fields.iter().skip(6).position(|f| *f == "-").map(|p| p + 6).ok_or_else(bad)?;
        let [fs_type, source, super_options] = fields[dash + 1..] else { return Err(bad()) };
        let mut options: Vec<String> = fields[5].split(',').map(str::to_string).collect();
        options.extend(super_options.split(',').filter(|o| *o != "ro" && *o != "rw").map(unescape));
        let mount = Mount {
            path: unescape(fields[4]),
            device: unescape(source),
            fs_type: fs_type.to_string(),
            options,
        };
        if let Some(slot) = out.iter_mut().find(|m| m.path == mount.path) {
            *slot = mount;
        } else {
            out.push(mount);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_optional_fields() {
        let out = b"36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:2 - ext3 /dev/x\\134y rw,errors=continue\n";
        let m = parse_mountinfo(out).unwrap();
        assert_eq!(m[0].path, "/mnt/a b");
        assert_eq!(m[0].device, "/dev/x\\y");
        assert_eq!(m[0].options, vec!["rw", "noatime", "errors=continue"]);
        assert_eq!(unescape("a\\08b\\"), "a\\08b\\");
    }

    #[test]
    fn malformed_lines_and_repeats() {
        assert!(parse_mountinfo(b"1 2 3 4 / rw - ext4\n").is_err());
        assert!(parse_mountinfo(b"1 2 3 4 / rw x ext4 a b\n").unwrap_err().to_string().contains("line 1"));
        let two = b"1 0 0:1 / /m rw - tmpfs a rw\n2 1 0:2 / /m ro - ext4 b ro\n";
        let m = parse_mountinfo(two).unwrap();
        assert_eq!((m.len(), m[0].device.as_str()), (1, "b"));
        assert!(parse_mountinfo(b"").unwrap().is_empty());
    }
}
