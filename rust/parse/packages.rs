//! Parsers for the listings of installed packages that package tools print.
//!
//! Each gives `name -> sorted versions` (a name may be installed at several versions: rpm's
//! kernels, dpkg's multi-arch copies). Blank lines are skipped; any other line that does not
//! have the listing's shape is an error quoting it (never skipped: a listing we cannot read
//! must not look like "not installed").

use std::collections::BTreeMap;

use crate::error::{CoreError, Result};

/// The listings [`parse_package_listing`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListingFormat {
    /// `dpkg-query -W -f '${db:Status-Abbrev}\t${Package}\t${Version}\n'`: installed when the
    /// status is `ii` or `hi` (wanted installed or held, and installed), as `dpkg -l` shows.
    Dpkg,
    /// `rpm -qa --queryformat '%{NAME} %{VERSION}-%{RELEASE}\n'` and `pacman -Q`: `NAME VERSION`.
    NameVersion,
    /// `apk list --installed`: `NAME-VERSION-rN ARCH {ORIGIN} (LICENSE) [installed]`.
    Apk,
}

impl ListingFormat {
    /// `dpkg`, `rpm`, `pacman` or `apk`.
    pub fn from_name(name: &str) -> Option<ListingFormat> {
        match name {
            "dpkg" => Some(ListingFormat::Dpkg),
            "rpm" | "pacman" => Some(ListingFormat::NameVersion),
            "apk" => Some(ListingFormat::Apk),
            _ => None,
        }
    }
}

/// Installed packages: name → its versions, sorted and without repeats.
pub type Packages = BTreeMap<String, Vec<String>>;

fn bad(line: &[u8], why: &str) -> CoreError {
    CoreError::parse("package listing", format!("{why} in line {:?}", String::from_utf8_lossy(line)))
}

/// A name or version: printable ASCII without blanks (every tool's rules are narrower).
fn word<'a>(line: &[u8], field: &'a [u8], what: &str) -> Result<&'a str> {
    if field.is_empty() {
        return Err(bad(line, &format!("empty {what}")));
    }
    if !field.iter().all(u8::is_ascii_graphic) {
        return Err(bad(line, &format!("{what} is not printable ASCII")));
    }
    Ok(std::str::from_utf8(field).expect("ASCII is UTF-8"))
}

/// Parses one listing (see [`ListingFormat`]).
///
/// ```
/// use oxinfra::parse::{parse_package_listing, ListingFormat};
///
/// let out = b"ii \tbash\t5.2.15-2+b2\nrc \told\t1.0\nun \tnever\t\nhi \tvim\t2:9.0\n";
/// let got = parse_package_listing(ListingFormat::Dpkg, out)?;
/// assert_eq!(got.keys().collect::<Vec<_>>(), ["bash", "vim"]);
/// assert!(parse_package_listing(ListingFormat::Dpkg, b"garbage\n").is_err());
/// # Ok::<(), oxinfra::CoreError>(())
/// ```
pub fn parse_package_listing(format: ListingFormat, stdout: &[u8]) -> Result<Packages> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in stdout.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (name, version) = match format {
            ListingFormat::Dpkg => {
                let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
                if fields.len() != 3 {
                    return Err(bad(
                        line,
                        &format!("expected 3 tab-separated fields, found {}", fields.len()),
                    ));
                }
                let status = fields[0];
                if status.len() < 2
                    || status.len() > 3
                    || !status.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
                {
                    return Err(bad(line, "malformed status"));
                }
                if !matches!(status[0], b'i' | b'h') || status[1] != b'i' {
                    continue; // not installed: dpkg-query lists it with an empty version
                }
                (word(line, fields[1], "name")?, word(line, fields[2], "version")?)
            }
            ListingFormat::NameVersion => {
                let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
                if fields.len() != 2 {
                    return Err(bad(line, &format!("expected NAME VERSION, found {} fields", fields.len())));
                }
                (word(line, fields[0], "name")?, word(line, fields[1], "version")?)
            }
            ListingFormat::Apk => {
                let first = line.split(|&b| b == b' ').next().unwrap_or_default();
                if !line.windows(10).any(|w| w == b"[installed") {
                    return Err(bad(line, "not an installed package"));
                }
                let full = word(line, first, "package")?;
                // NAME-VERSION-rN: the release is after the last '-', the version before it.
                let mut parts = full.rsplitn(3, '-');
                let (release, version, name) = (parts.next(), parts.next(), parts.next());
                match (name, version, release) {
                    (Some(name), Some(version), Some(release))
                        if !name.is_empty()
                            && !version.is_empty()
                            && release.len() > 1
                            && release.starts_with('r') =>
                    {
                        (name, &full[name.len() + 1..])
                    }
                    _ => return Err(bad(line, "expected NAME-VERSION-rN")),
                }
            }
        };
        out.entry(name.to_string()).or_default().push(version.to_string());
    }
    for versions in out.values_mut() {
        versions.sort();
        versions.dedup();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(format: ListingFormat, out: &[u8]) -> Vec<(String, Vec<String>)> {
        parse_package_listing(format, out).unwrap().into_iter().collect()
    }

    #[test]
    fn dpkg_statuses() {
        let out = b"ii \ta\t1\nhi \tb\t2\nrc \tc\t3\nun \td\t\niU \te\t5\nri \tf\t6\nii \ta\t0\n";
        let got = names(ListingFormat::Dpkg, out);
        assert_eq!(got, vec![("a".into(), vec!["0".into(), "1".into()]), ("b".into(), vec!["2".into()])]);
    }

    #[test]
    fn dpkg_errors() {
        for out in [&b"ii a 1\n"[..], b"ii \t\t1\n", b"ii \ta\t\xff\n", b"i\ta\t1\n", b"ii \ta b\t1\n"] {
            assert!(parse_package_listing(ListingFormat::Dpkg, out).is_err(), "{out:?}");
        }
        assert!(names(ListingFormat::Dpkg, b"").is_empty());
        assert!(names(ListingFormat::Dpkg, b"\n \n").is_empty());
    }

    #[test]
    fn name_version() {
        let got = names(ListingFormat::NameVersion, b"kernel 6.1-1.el9\nkernel 6.2-1.el9\nbash 5.2-1\n");
        assert_eq!(got[1], ("kernel".into(), vec!["6.1-1.el9".into(), "6.2-1.el9".into()]));
        assert!(parse_package_listing(ListingFormat::NameVersion, b"error: rpmdb open failed\n").is_err());
    }

    #[test]
    fn apk() {
        let out = b"musl-1.2.4-r2 x86_64 {musl} (MIT) [installed]\nca-certificates-bundle-20230506-r0 x86_64 {ca-certificates} (MPL-2.0 AND MIT) [installed]\n";
        let got = names(ListingFormat::Apk, out);
        assert_eq!(got[0], ("ca-certificates-bundle".into(), vec!["20230506-r0".into()]));
        assert_eq!(got[1], ("musl".into(), vec!["1.2.4-r2".into()]));
        assert!(parse_package_listing(ListingFormat::Apk, b"musl x86_64 {musl} (MIT) [installed]\n").is_err());
        assert!(parse_package_listing(ListingFormat::Apk, b"WARNING: opening x\n").is_err());
    }
}
