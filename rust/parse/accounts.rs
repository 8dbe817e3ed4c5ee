//! Parsers of the account databases: `/etc/passwd`, `/etc/group`, `/etc/shadow`
//! and `lastlog` output, for the `server.Users` and `server.Groups` facts.
//!
//! Rules, shared by every file:
//!
//! * lines are decoded as UTF-8, invalid bytes becoming U+FFFD (a GECOS
//!   comment written in Latin-1 stays readable; such a name names no account
//!   the tools can be asked about, but the listing is not refused for it);
//! * empty lines, comment lines (`#`) and NIS compat lines (`+...`, `-...`)
//!   are skipped, as the C library's files backend does;
//! * any other line of the wrong shape (`/etc/passwd`: 7 `:`-separated
//!   fields, `/etc/group`: 4, numeric ids, a name) is a parse error naming the
//!   file and line: the fact fails for that host, it never guesses.
//!
//! `/etc/shadow` lines are read for their second field only (no shadow entry:
//! the empty password `""`), and `lastlog` lines for a login time (none: `None`).
//!
//! ```
//! use oxinfra::parse::{parse_groups, parse_users};
//!
//! let out = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/bash\n\
//! @@OX-GROUP\nroot:x:0:\napp:x:1000:\nsudo:x:27:app\n@@OX-SHADOW\napp:$y$abc:1::::::\n@@OX-LASTLOG\n";
//! let users = parse_users(out)?;
//! assert_eq!(users[1].name, "app");
//! assert_eq!((users[1].group.as_str(), users[1].groups.clone()), ("app", vec!["sudo".to_string()]));
//! assert_eq!((users[1].comment.as_deref(), users[1].password.as_str()), (None, "$y$abc"));
//! assert_eq!(parse_groups(b"root:x:0:\n\n# c\nsudo:x:27:app\n")?, vec!["root", "sudo"]);
//! assert!(parse_groups(b"root:x:zero:\n").is_err());
//! # Ok::<(), oxinfra::CoreError>(())
//! ```

use crate::error::{CoreError, Result};
use std::collections::HashMap;

/// Section markers of the `server.Users` command's output (each on a line of its own).
pub const GROUP_MARK: &str = "@@OX-GROUP";
pub const SHADOW_MARK: &str = "@@OX-SHADOW";
pub const LASTLOG_MARK: &str = "@@OX-LASTLOG";

/// A login time read from `lastlog`: the civil date and time and the UTC offset in seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub offset: i32,
}

/// One account, as `server.Users` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    pub home: Option<String>,
    pub comment: Option<String>,
    pub shell: Option<String>,
    /// The primary group's name (its id, in decimal, when no group has it).
    pub group: String,
    /// Other groups that list the user as a member, in `/etc/group` order.
    pub groups: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    /// The login time as `lastlog` printed it, runs of spaces squeezed.
    pub lastlog: Option<String>,
    pub login_time: Option<LoginTime>,
    /// The password hash from `/etc/shadow`, `""` when there is none (or it was not readable).
    pub password: String,
}

struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// The lines of `text` worth reading: `(line number, line)`, skipping the empty, comment and
/// NIS compat lines.
fn records(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with(['#', '+', '-']))
}

fn number(file: &str, n: usize, what: &str, value: &str) -> Result<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoreError::parse(
            "accounts",
            format!("{file} line {n}: the {what} {value:?} is not a number"),
        ));
    }
    value.parse().map_err(|_| {
        CoreError::parse("accounts", format!("{file} line {n}: the {what} {value:?} is too large"))
    })
}

fn fields<'a>(file: &str, n: usize, line: &'a str, count: usize) -> Result<Vec<&'a str>> {
    let parts: Vec<&str> = line.split(':').collect();
    if parts.len() != count || parts[0].is_empty() {
        let why = if parts[0].is_empty() {
            "no name".to_string()
        } else {
            format!("{} ':'-separated fields where there must be {count}", parts.len())
        };
        let shown: String = line.chars().take(80).collect();
        return Err(CoreError::parse("accounts", format!("{file} line {n}: {why}: {shown:?}")));
    }
    Ok(parts)
}

fn parse_group_file(text: &str) -> Result<Vec<Group>> {
    records(text)
        .map(|(n, line)| {
            let f = fields("/etc/group", n, line, 4)?;
            Ok(Group {
                name: f[0].to_string(),
                gid: number("/etc/group", n, "group id", f[2])?,
                members: f[3].split(',').filter(|m| !m.is_empty()).map(str::to_string).collect(),
            })
        })
        .collect()
}

/// The group names of `/etc/group`, in file order (`server.Groups`).
pub fn parse_groups(stdout: &[u8]) -> Result<Vec<String>> {
    Ok(parse_group_file(&String::from_utf8_lossy(stdout))?.into_iter().map(|g| g.name).collect())
}

/// Splits `stdout` at the marker lines, in order; a missing marker is an error.
fn sections<'a>(text: &'a str, marks: &[&str]) -> Result<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = text;
    for mark in marks {
        let needle = format!("\n{mark}\n");
        let found = if rest.starts_with(&needle[1..]) { Some(0) } else { rest.find(&needle).map(|i| i + 1) };
        let Some(at) = found else {
            return Err(CoreError::parse("accounts", format!("the line {mark} is missing from the output")));
        };
        out.push(&rest[..at]);
        rest = &rest[at + mark.len() + 1..];
    }
    out.push(rest);
    Ok(out)
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Where a login time starts in a (squeezed) `lastlog` line: three letters (capital first),
/// a space, three letters, one or two spaces, digits, a space and something after it.
fn login_start(line: &[u8]) -> Option<usize> {
    let word = |at: usize| {
        line.len() >= at + 3
            && line[at].is_ascii_uppercase()
            && line[at + 1].is_ascii_lowercase()
            && line[at + 2].is_ascii_lowercase()
    };
    (0..line.len()).find(|&p| {
        if !(word(p) && line.get(p + 3) == Some(&b' ') && word(p + 4) && line.get(p + 7) == Some(&b' ')) {
            return false;
        }
        let mut q = p + 8;
        if line.get(q) == Some(&b' ') {
            q += 1;
        }
        let digits = line[q.min(line.len())..].iter().take_while(|b| b.is_ascii_digit()).count();
        digits > 0 && line.get(q + digits) == Some(&b' ') && line.len() > q + digits + 1
    })
}

/// `Fri Dec 4 20:28:10 +0000 2026` (as `lastlog` prints it) as a time; `None` for another shape.
fn login_time(text: &str) -> Option<LoginTime> {
    let parts: Vec<&str> = text.split(' ').collect();
    let [_weekday, month, day, time, zone, year] = parts[..] else { return None };
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let clock: Vec<u32> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [hour, minute, second] = clock[..] else { return None };
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let offset = sign * (digits[..2].parse::<i32>().ok()? * 3600 + digits[2..].parse::<i32>().ok()? * 60);
    let day: u32 = day.parse().ok()?;
    let valid = (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 61;
    valid.then_some(LoginTime { year: year.parse().ok()?, month, day, hour, minute, second, offset })
}

/// The `server.Users` command's output: `/etc/passwd`, then after a line [`GROUP_MARK`]
/// `/etc/group`, after [`SHADOW_MARK`] `/etc/shadow` (or nothing: not readable), after
/// [`LASTLOG_MARK`] `lastlog`'s output (or nothing). Accounts in `/etc/passwd` order.
pub fn parse_users(stdout: &[u8]) -> Result<Vec<UserEntry>> {
    let text = String::from_utf8_lossy(stdout);
    let parts = sections(&text, &[GROUP_MARK, SHADOW_MARK, LASTLOG_MARK])?;
    let groups = parse_group_file(parts[1])?;
    let mut group_names: HashMap<u32, &str> = HashMap::new();
    for g in &groups {
        group_names.entry(g.gid).or_insert(&g.name);
    }
    let mut shadow: HashMap<&str, &str> = HashMap::new();
    for (_, line) in records(parts[2]) {
        if let Some((name, rest)) = line.split_once(':') {
            shadow.entry(name).or_insert(rest.split(':').next().unwrap_or(""));
        }
    }
    let mut logins: HashMap<String, String> = HashMap::new();
    for line in parts[3].split('\n') {
        let squeezed = line.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        let Some(name) = squeezed.split(' ').next() else { continue };
        if let Some(at) = login_start(squeezed.as_bytes()) {
            logins.entry(name.to_string()).or_insert_with(|| squeezed[at..].to_string());
        }
    }
    let mut users = Vec::new();
    for (n, line) in records(parts[0]) {
        let f = fields("/etc/passwd", n, line, 7)?;
        let (name, gid) = (f[0], number("/etc/passwd", n, "group id", f[3])?);
        let uid = number("/etc/passwd", n, "user id", f[2])?;
        let group = group_names.get(&gid).map_or_else(|| gid.to_string(), |g| (*g).to_string());
        let mut seen = vec![gid];
        let mut others = Vec::new();
        for g in &groups {
            if g.members.iter().any(|m| m == name) && !seen.contains(&g.gid) {
                seen.push(g.gid);
                let shown = group_names[&g.gid];
                if shown != group {
                    others.push(shown.to_string());
                }
            }
        }
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_string());
        let lastlog = logins.get(name).cloned();
        users.push(UserEntry {
            name: name.to_string(),
            home: optional(f[5]),
            comment: optional(f[4]),
            shell: optional(f[6]),
            group,
            groups: others,
            uid,
            gid,
            login_time: lastlog.as_deref().and_then(login_time),
            lastlog,
            password: shadow.get(name).map_or_else(String::new, |p| (*p).to_string()),
        });
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(passwd: &str, group: &str, shadow: &str, lastlog: &str) -> Result<Vec<UserEntry>> {
        parse_users(
            format!("{passwd}\n{GROUP_MARK}\n{group}\n{SHADOW_MARK}\n{shadow}\n{LASTLOG_MARK}\n{lastlog}")
                .as_bytes(),
        )
    }

    #[test]
    fn primary_and_secondary_groups() {
        let u =
            users("a:x:5:7::/h:/bin/sh", "g7:x:7:a\nother:x:8:b,a\nsame:x:7:a\nlast:x:9:a", "", "").unwrap();
        assert_eq!(u[0].group, "g7");
        assert_eq!(u[0].groups, vec!["other", "last"]);
    }

    #[test]
    fn a_gid_without_group_is_its_number() {
        let u = users("a:x:5:4242::/h:", "", "", "").unwrap();
        assert_eq!((u[0].group.as_str(), u[0].shell.as_deref()), ("4242", None));
    }

    #[test]
    fn lastlog_times() {
        let log = "Username Port From Latest\nroot   **Never logged in**\na  pts/0  10.0.0.1   Fri Dec  4 20:28:10 +0130 2026";
        let u = users("root:x:0:0::/root:/bin/sh\na:x:5:5::/h:/bin/sh", "", "", log).unwrap();
        assert_eq!(u[0].lastlog, None);
        assert_eq!(u[1].lastlog.as_deref(), Some("Fri Dec 4 20:28:10 +0130 2026"));
        let t = u[1].login_time.clone().unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour, t.offset), (2026, 12, 4, 20, 5400));
    }

    #[test]
    fn malformed_lines_are_errors() {
        let err = users("a:x:5::/h:/bin/sh", "", "", "").unwrap_err().to_string();
        assert!(err.contains("/etc/passwd line 1: 6 ':'-separated fields"), "{err}");
        let err = users("a:x:-5:5::/h:/bin/sh", "", "", "").unwrap_err().to_string();
        assert!(err.contains("user id \"-5\" is not a number"), "{err}");
        let err = users("a:x:5:5::/h:/bin/sh", "g:x:5", "", "").unwrap_err().to_string();
        assert!(err.contains("/etc/group line 1"), "{err}");
        let err = parse_users(b"a:x:5:5::/h:/bin/sh\n").unwrap_err().to_string();
        assert!(err.contains("@@OX-GROUP is missing"), "{err}");
        assert!(parse_groups(b":x:1:\n").unwrap_err().to_string().contains("no name"));
    }

    #[test]
    fn skipped_lines_and_bad_bytes() {
        let u = users("# c\n\n+::::::\na:x:1:1:Jos\u{e9}:/h:/bin/sh", "", "", "").unwrap();
        assert_eq!(u.len(), 1);
        let raw = b"a:x:1:1:Jos\xe9:/h:/bin/sh\n@@OX-GROUP\n@@OX-SHADOW\n@@OX-LASTLOG\n";
        assert_eq!(parse_users(raw).unwrap()[0].comment.as_deref(), Some("Jos\u{fffd}"));
    }
}
