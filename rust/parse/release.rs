//! Parsers for release files (`/etc/*-release`, `os-release`): the fiddly
//! part of the `server.LinuxDistribution` fact.

use crate::error::{CoreError, Result};

/// Splits the framed output of the release-files command: for each file a
/// header line `<byte count> <path>` followed by exactly that many bytes of
/// the file's content.
///
/// ```
/// use oxinfra::parse::split_release_files;
///
/// let files = split_release_files(b"3 /etc/a-release\nab\n0 /etc/b-release\n")?;
/// assert_eq!(files, vec![("/etc/a-release".to_string(), b"ab\n".to_vec()), ("/etc/b-release".into(), vec![])]);
/// assert!(split_release_files(b"9 /etc/a-release\nab\n").is_err()); // cut short
/// # Ok::<(), oxinfra::CoreError>(())
/// ```
pub fn split_release_files(stdout: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut rest = stdout;
    while !rest.is_empty() {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Err(bad(format!("header without newline: {:?}", lossy_start(rest))));
        };
        let header = String::from_utf8_lossy(&rest[..end]);
        let (count, path) = header.trim_start().split_once(' ').unwrap_or(("", ""));
        let Ok(count) = count.parse::<usize>() else {
            return Err(bad(format!("expected '<byte count> <path>', got {header:?}")));
        };
        if path.is_empty() {
            return Err(bad(format!("no path in header {header:?}")));
        }
        let body = &rest[end + 1..];
        if body.len() < count {
            return Err(bad(format!("{path}: {count} bytes announced, {} present", body.len())));
        }
        files.push((path.to_string(), body[..count].to_vec()));
        rest = &body[count..];
    }
    Ok(files)
}

fn bad(message: String) -> CoreError {
    CoreError::parse("release files", message)
}

fn lossy_start(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(60)]).into_owned()
}

/// The variables of an `os-release` file, read as a POSIX shell would split
/// its words: quotes, backslash escapes, `#` comments, values over several
/// lines. Words with an `=` are assignments; keys are lowercased; a key given
/// twice keeps its first place and its last value. Then `codename` (and
/// `release_codename`) come from the `VERSION` text (`12 (bookworm)`,
/// `7, Maipo`), overridden by `VERSION_CODENAME`, else `UBUNTU_CODENAME`.
///
/// ```
/// use oxinfra::parse::parse_os_release;
///
/// let vars = parse_os_release("NAME=\"Debian GNU/Linux\"\nVERSION='12 (bookworm)' # a comment\nID=debian\n")?;
/// assert_eq!(vars[0], ("name".to_string(), "Debian GNU/Linux".to_string()));
/// assert_eq!(vars[3], ("codename".to_string(), "bookworm".to_string()));
/// assert!(parse_os_release("NAME=\"unclosed\n").is_err());
/// # Ok::<(), oxinfra::CoreError>(())
/// ```
pub fn parse_os_release(text: &str) -> Result<Vec<(String, String)>> {
    let mut vars: Vec<(String, String)> = Vec::new();
    for word in shell_words(text)? {
        if let Some((key, value)) = word.split_once('=') {
            set(&mut vars, &key.to_lowercase(), value.to_string());
        }
    }
    let version = vars.iter().find(|(k, _)| k == "version").map(|(_, v)| v.clone());
    if let Some(codename) = version.as_deref().and_then(codename_in_version) {
        set(&mut vars, "codename", codename.clone());
        set(&mut vars, "release_codename", codename);
    }
    let named = ["version_codename", "ubuntu_codename"]
        .iter()
        .find_map(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    if let Some(codename) = named {
        set(&mut vars, "codename", codename);
    }
    Ok(vars)
}

fn set(vars: &mut Vec<(String, String)>, key: &str, value: String) {
    match vars.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => vars.push((key.to_string(), value)),
    }
}

/// A digit as the os-release readers' patterns mean it (ASCII; `\d`).
fn digit(c: char) -> bool {
    c.is_ascii_digit()
}

/// The codename in a `VERSION` value: at the first place where either form
/// fits, the text in parentheses (no digit in it; up to the last `)` before
/// a digit), or what follows a comma and blanks (up to a digit).
fn codename_in_version(version: &str) -> Option<String> {
    let chars: Vec<char> = version.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '(' {
            let run_end = (i + 1..chars.len()).find(|&j| digit(chars[j])).unwrap_or(chars.len());
            if let Some(close) = (i + 2..run_end).rev().find(|&j| chars[j] == ')') {
                return Some(chars[i + 1..close].iter().collect());
            }
        } else if c == ',' {
            let blank_end = (i + 1..chars.len()).find(|&j| !chars[j].is_whitespace()).unwrap_or(chars.len());
            let run_end = (blank_end..chars.len()).find(|&j| digit(chars[j])).unwrap_or(chars.len());
            if run_end > blank_end {
                return Some(chars[blank_end..run_end].iter().collect());
            }
            if blank_end > i + 1 {
                // only blanks before a digit (or the end): the last blank is the name
                return Some(chars[blank_end - 1..blank_end].iter().collect());
            }
        }
    }
    None
}

/// Words as a POSIX shell lexer in whitespace-split mode makes them.
fn shell_words(text: &str) -> Result<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Blank,
        Word,
        Quote(char),
        Escape(Option<char>),
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut state = State::Blank;
    let mut chars = text.chars();
    let is_blank = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let mut finish = |word: &mut String, quoted: &mut bool| {
        if !word.is_empty() || *quoted {
            words.push(std::mem::take(word));
        }
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        match state {
            State::Blank | State::Word if is_blank(c) => {
                finish(&mut word, &mut quoted);
                state = State::Blank;
            }
            State::Blank | State::Word if c == '#' => {
                // a comment, also right after a word: the rest of the line goes
                for rest in chars.by_ref() {
                    if rest == '\n' {
                        break;
                    }
                }
                finish(&mut word, &mut quoted);
                state = State::Blank;
            }
            State::Blank | State::Word => match c {
                '\'' | '"' => {
                    quoted = true;
                    state = State::Quote(c);
                }
                '\\' => state = State::Escape(None),
                _ => {
                    word.push(c);
                    state = State::Word;
                }
            },
            State::Quote(q) if c == q => state = State::Word,
            State::Quote('"') if c == '\\' => state = State::Escape(Some('"')),
            State::Quote(_) => word.push(c),
            State::Escape(inside) => {
                // inside double quotes a backslash escapes only `"` and itself
                if inside.is_some() && c != '"' && c != '\\' {
                    word.push('\\');
                }
                word.push(c);
                state = inside.map_or(State::Word, State::Quote);
            }
        }
    }
    match state {
        State::Quote(q) => Err(CoreError::parse("os-release", format!("no closing {q} quote"))),
        State::Escape(_) => Err(CoreError::parse("os-release", "a backslash at the end".to_string())),
        State::Blank | State::Word => {
            finish(&mut word, &mut quoted);
            Ok(words)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse_os_release(text).unwrap()
    }

    fn get(text: &str, key: &str) -> Option<String> {
        vars(text).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    #[test]
    fn quoting() {
        assert_eq!(get("A='x y'", "a").as_deref(), Some("x y"));
        assert_eq!(get(r#"A="x \"q\" \$ \\ \n""#, "a").as_deref(), Some(r#"x "q" \$ \ \n"#));
        assert_eq!(get(r"A=x\ y", "a").as_deref(), Some("x y"));
        assert_eq!(get("A=x#c\nB=2", "a").as_deref(), Some("x"));
        assert_eq!(get("A=x#c\nB=2", "b").as_deref(), Some("2"));
        assert_eq!(get("A=\"two\nlines\"", "a").as_deref(), Some("two\nlines"));
        assert_eq!(get("A=''", "a").as_deref(), Some(""));
        assert_eq!(get("a=1\nA=2", "a").as_deref(), Some("2"));
        assert_eq!(vars("just words here\n"), vec![]);
    }

    #[test]
    fn codenames() {
        assert_eq!(codename_in_version("12 (bookworm)").as_deref(), Some("bookworm"));
        assert_eq!(codename_in_version("7 (Core)").as_deref(), Some("Core"));
        assert_eq!(codename_in_version("20.04.6 LTS (Focal Fossa)").as_deref(), Some("Focal Fossa"));
        assert_eq!(codename_in_version("7, Maipo").as_deref(), Some("Maipo"));
        assert_eq!(codename_in_version("(a) (b)").as_deref(), Some("a) (b"));
        assert_eq!(codename_in_version("(a) 1 (b)").as_deref(), Some("a"));
        assert_eq!(codename_in_version("(1)"), None);
        assert_eq!(codename_in_version("1, 2").as_deref(), Some(" "));
        assert_eq!(codename_in_version("1,2"), None);
        assert_eq!(get("VERSION=\"12 (x)\"\nVERSION_CODENAME=y", "codename").as_deref(), Some("y"));
        assert_eq!(get("VERSION=\"12 (x)\"\nVERSION_CODENAME=y", "release_codename").as_deref(), Some("x"));
        assert_eq!(get("UBUNTU_CODENAME=u", "codename").as_deref(), Some("u"));
    }

    #[test]
    fn malformed() {
        assert!(parse_os_release("A='x").unwrap_err().to_string().contains("no closing ' quote"));
        assert!(parse_os_release("A=x\\").unwrap_err().to_string().contains("backslash at the end"));
        assert!(split_release_files(b"x /etc/a\n").is_err());
        assert!(split_release_files(b"1\n").is_err());
        assert!(split_release_files(b"1 /etc/a").is_err());
    }
}
