//! Runs the JSON fixtures through the core parsers:
//!
//! * `tests/facts/<fact>/<case>.json`: one fact command's output, for every
//!   fact whose value a Rust parser gives (pytest reads every case through the
//!   fact class: `tests/test_fact_fixtures.py` documents the format);
//! * `tests/parse/demux/<case>.json`: marker lines and their statuses;
//! * `tests/parse/stat_batch/<case>.json`: the output of one batched `stat`.
//!
//! A fact class checks the exit status before its parser sees the output, so
//! [`rust_parser`] pairs each fact with its parser and that status rule (as in
//! `python/oxinfra/facts/files.py`). Facts parsed in Python are listed in
//! [`PARSED_IN_PYTHON`]; a fact folder in neither list fails the test.
//!
//! A `tests/parse` fixture with `"error"` expects a parse error whose message
//! contains it; so does a fact fixture whose error the Rust parser raises.

use oxinfra::parse::{
    demux, parse_groups, parse_hash, parse_lines, parse_mountinfo, parse_package_listing, parse_stat,
    parse_sysctl, parse_users, split_stat_batch, ListingFormat, StatResult, Status, SysctlItem, SysctlValue,
};
use oxinfra::CoreError;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The `*.json` files under `dir` (relative to the crate root), at any depth, sorted.
fn fixtures(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut files);
    files.sort();
    files
}

fn text<'a>(fixture: &'a Value, key: &str) -> &'a [u8] {
    fixture[key].as_str().unwrap_or_else(|| panic!("{key} is a string")).as_bytes()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("fixture output is UTF-8")
}

fn run_demux(fixture: &Value) -> Result<Value, CoreError> {
    let out = demux(text(fixture, "data"), fixture["nonce"].as_str().unwrap())?;
    let sections: Vec<Value> = out
        .sections
        .iter()
        .map(|s| {
            let status = match s.status {
                Status::Exit(rc) => json!(rc),
                Status::Stale => Value::Null,
            };
            json!([s.index, status, lossy(s.output)])
        })
        .collect();
    Ok(json!({"sections": sections, "rest": lossy(out.rest), "done": out.done}))
}

fn run_stat_batch(fixture: &Value) -> Result<Value, CoreError> {
    let paths: Vec<&[u8]> =
        fixture["paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().as_bytes()).collect();
    let nonce = fixture["nonce"].as_str().unwrap();
    let absent = fixture.get("absent").map_or(&b""[..], |_| text(fixture, "absent"));
    let out = split_stat_batch(absent, text(fixture, "stat"), text(fixture, "links"), nonce, &paths)?;
    Ok(out.iter().map(|p| json!([lossy(&p.stdout), p.rc])).collect())
}

/// Runs every fixture under `dir`; all failures are reported together.
fn check(dir: &str, at_least: usize, run: fn(&Value) -> Result<Value, CoreError>) {
    let files = fixtures(dir);
    assert!(files.len() >= at_least, "only {} fixtures found in {dir}", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let failure = match (run(&fixture), fixture.get("error")) {
            (Ok(got), None) if got == fixture["expected"] => continue,
            (Ok(got), None) => format!("expected {}, got {got}", fixture["expected"]),
            (Ok(got), Some(error)) => format!("expected an error with {error}, got {got}"),
            (Err(err), Some(error)) if err.to_string().contains(error.as_str().unwrap()) => {
                if matches!(err, CoreError::Parse { .. }) {
                    continue;
                }
                format!("expected a parse error, got {err:?}")
            }
            (Err(err), _) => format!("unexpected error: {err}"),
        };
        failures.push(format!("{}: {failure}", path.display()));
    }
    assert!(failures.is_empty(), "{} fixtures failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn demux_fixtures() {
    check("tests/parse/demux", 10, run_demux);
}

#[test]
fn stat_batch_fixtures() {
    check("tests/parse/stat_batch", 25, run_stat_batch);
}

/// What a fact makes of its command's output.
#[derive(Debug)]
enum Outcome {
    Value(Value),
    /// The fact fails: with the Rust parser's message, or `None` when the
    /// status rule or the fact class decides (its message is Python's).
    Failed(Option<String>),
}

type Parser = fn(&[u8], i64) -> Outcome;

/// Facts with no Rust parser: their cases run in pytest only.
const PARSED_IN_PYTHON: &[&str] = &[
    "server.SecurityLimits",
    "files.SameFile",
    "crontab.Crontab",
    "server.KernelModules",
    "server.Locales",
    "server.User",
    "server.Home",
    "server.Os",
    "server.Kernel",
    "server.Arch",
    "server.Hostname",
    "server.Timezone",
    "server.Command",
    "server.Which",
    // Rust splits the release files and reads os-release's shell syntax; the version choice is Python's.
    "server.LinuxDistribution",
    "server.LinuxName",
    "server.OsRelease",
    "server.LsbRelease",
    "server.KernelVersion",
    "server.OsVersion",
    "server.Date",
    "server.TmpDir",
    "server.Path",
    "server.Selinux",
    "server.RebootRequired",
    "server.Uptime",
    "server.Processes",
    "server.Port",
    "files.FileContents",
    "files.Block",
    "files.FindFiles",
    "files.FindLinks",
    "files.FindDirectories",
    "files.BlockMarkers",
    // hardware.NetworkDevices and its short facts: Rust reads `ip addr`/`ifconfig` text
    // (rust/parse/netdev.rs, unit tests there), Python the JSON of `ip -j` and the shapes.
    "hardware.Cpus",
    "hardware.Memory",
    "hardware.BlockDevices",
    "hardware.NetworkDevices",
    "hardware.Ipv4Addresses",
    "hardware.Ipv6Addresses",
    "hardware.Ipv4Addrs",
    "hardware.Ipv6Addrs",
    "deb.DebArch",
    "deb.DebPackage",
    "apt.AptSources",
    "apt.AptPackages",
    "apt.AptCacheAge",
    "apt.SimulateOperationWillChange",
    "rpm.RpmPackage",
    "apt.AptKeys",
    // the service facts (parsed in Python: no Rust parser)
    "openrc.OpenrcEnabled",
    "openrc.OpenrcServices",
    "openrc.OpenrcStatus",
    "systemd.SystemdEnabled",
    "systemd.SystemdStatus",
    "sysvinit.InitdStartLinks",
    "sysvinit.InitdStatus",
    "sysvinit.InitdScriptStatus",
    "files.LinkTarget",
    // ops2's and compat's facts (parsed in Python)
    "dnf.DnfDisabledModules",
    "dnf.DnfEnabledModules",
    "files.FileBytes",
    "files.DiffContent",
    "git.GitBranch",
    "git.GitConfig",
    "git.GitCurrentBranch",
    "git.GitLocalCommit",
    "git.GitRemoteBranchCommit",
    "git.GitTag",
    "git.GitTrackingBranch",
    "pip.Pip3Packages",
    "pip.PipPackages",
];

/// The Rust parser of a fact (by its fixture folder name), with the status rule
/// of its class.
fn rust_parser(fact: &str) -> Option<Parser> {
    let parser: Parser = match fact {
        "files.File" => |out, rc| stat("file", out, rc),
        "files.Directory" => |out, rc| stat("directory", out, rc),
        "files.Link" => |out, rc| stat("link", out, rc),
        "files.Socket" => |out, rc| stat("socket", out, rc),
        "files.Sha1File" => |out, rc| hash(40, out, rc),
        "files.Sha256File" => |out, rc| hash(64, out, rc),
        "files.Md5File" => |out, rc| hash(32, out, rc),
        "files.Sha384File" => |out, rc| hash(96, out, rc),
        "files.FindInFile" => find_in_file,
        "deb.DebPackages" => |out, rc| listing("dpkg", out, rc),
        "rpm.RpmPackages" => |out, rc| listing("rpm", out, rc),
        "pacman.PacmanPackages" => |out, rc| listing("pacman", out, rc),
        "apk.ApkPackages" => |out, rc| listing("apk", out, rc),
        "server.Users" => users,
        "server.Sysctl" => sysctl,
        "server.Mounts" => |out, rc| {
            if rc != 0 {
                return Outcome::Failed(None);
            }
            match parse_mountinfo(out) {
                Ok(mounts) => Outcome::Value(Value::Object(
                    mounts
                        .into_iter()
                        .map(|m| {
                            (m.path, json!({"device": m.device, "type": m.fs_type, "options": m.options}))
                        })
                        .collect(),
                )),
                Err(err) => Outcome::Failed(Some(err.to_string())),
            }
        },
        "server.Groups" => |out, rc| {
            if rc != 0 {
                return Outcome::Failed(None);
            }
            parse_groups(out)
                .map_or_else(|e| Outcome::Failed(Some(e.to_string())), |g| Outcome::Value(json!(g)))
        },
        _ => return None,
    };
    Some(parser)
}

/// `DebPackages` (and the other package listings): any status but 0 fails; the listing
/// parses to `{name: [versions]}`, or fails with the parser's message.
fn listing(format: &str, stdout: &[u8], rc: i64) -> Outcome {
    if rc != 0 {
        return Outcome::Failed(None);
    }
    let format = ListingFormat::from_name(format).expect("a listing format");
    match parse_package_listing(format, stdout) {
        Ok(packages) => Outcome::Value(json!(packages)),
        Err(err) => Outcome::Failed(Some(err.to_string())),
    }
}

/// `File` and its subclasses: statuses other than 0 and 1 (`absent_status`) fail.
fn stat(expected: &str, stdout: &[u8], rc: i64) -> Outcome {
    if rc != 0 && rc != 1 {
        return Outcome::Failed(None);
    }
    match parse_stat(expected, stdout, rc) {
        Ok(StatResult::Absent) => Outcome::Value(Value::Null),
        Ok(StatResult::WrongType(_)) => Outcome::Value(Value::Bool(false)),
        Ok(StatResult::Found(s)) => {
            let mut value = json!({
                "user": s.user, "group": s.group, "mode": s.mode, "size": s.size,
                "atime": datetime(s.atime), "mtime": datetime(s.mtime), "ctime": datetime(s.ctime),
            });
            if let Some(target) = s.link_target {
                value["link_target"] = fs_text(target);
            }
            Outcome::Value(value)
        }
        Err(err) => Outcome::Failed(Some(err.to_string())),
    }
}

/// A name the file system keeps as bytes, as the fixtures write it: a string when it is
/// UTF-8, else `{"fsdecode": ...}` with each byte one character (Python's value:
/// `os.fsdecode`'s, the bytes that are not UTF-8 as surrogates).
fn fs_text(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(text) => json!(text),
        Err(err) => json!({"fsdecode": err.into_bytes().iter().map(|&b| char::from(b)).collect::<String>()}),
    }
}

/// `Sha1File`, `Sha256File`: any other status than 0 fails; no output is "not
/// a file"; output that holds no digest fails.
fn hash(digits: usize, stdout: &[u8], rc: i64) -> Outcome {
    if rc != 0 {
        return Outcome::Failed(None);
    }
    if stdout.is_empty() {
        return Outcome::Value(Value::Null);
    }
    parse_hash(stdout, digits).map_or(Outcome::Failed(None), |digest| Outcome::Value(json!(digest)))
}

/// `FindInFile`: nothing printed with status 0 is "no such file", grep's 1 "no
/// line matches", any other status fails.
fn find_in_file(stdout: &[u8], rc: i64) -> Outcome {
    match rc {
        0 if stdout.is_empty() => Outcome::Value(Value::Null),
        0 => Outcome::Value(json!(parse_lines(stdout, rc, -1))),
        1 => Outcome::Value(json!([])),
        _ => Outcome::Failed(None),
    }
}

/// `server.Sysctl`: any status but 0 fails; one word is the value itself.
fn sysctl(stdout: &[u8], rc: i64) -> Outcome {
    if rc != 0 {
        return Outcome::Failed(None);
    }
    let word = |item: SysctlItem| match item {
        SysctlItem::Int(text) => text.parse::<i64>().map_or_else(
            |_| json!(text.parse::<u64>().expect("a number in range of the fixtures")),
            |n| json!(n),
        ),
        SysctlItem::Str(text) => json!(text),
    };
    let mut map = serde_json::Map::new();
    for (key, value) in parse_sysctl(stdout) {
        let value = match value {
            SysctlValue::Text(text) => json!(text),
            SysctlValue::Items(mut items) if items.len() == 1 => word(items.remove(0)),
            SysctlValue::Items(items) => Value::Array(items.into_iter().map(word).collect()),
        };
        map.insert(key, value);
    }
    Outcome::Value(Value::Object(map))
}

/// `server.Users`: any status but 0 fails; a login time is an aware datetime.
fn users(stdout: &[u8], rc: i64) -> Outcome {
    if rc != 0 {
        return Outcome::Failed(None);
    }
    let users = match parse_users(stdout) {
        Ok(users) => users,
        Err(err) => return Outcome::Failed(Some(err.to_string())),
    };
    let mut map = serde_json::Map::new();
    for u in users {
        let login_time = u.login_time.map_or(Value::Null, |t| {
            let (sign, off) = if t.offset < 0 { ('-', -t.offset) } else { ('+', t.offset) };
            json!({ "datetime": format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
                t.year, t.month, t.day, t.hour, t.minute, t.second, off / 3600, off % 3600 / 60
            ) })
        });
        map.insert(
            u.name,
            json!({
                "home": u.home, "comment": u.comment, "shell": u.shell, "group": u.group,
                "groups": u.groups, "uid": u.uid, "gid": u.gid, "lastlog": u.lastlog,
                "login_time": login_time, "password": u.password,
            }),
        );
    }
    Outcome::Value(Value::Object(map))
}

/// Seconds since the epoch as the fixtures write a datetime: naive, UTC.
fn datetime(epoch: i64) -> Value {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    json!({ "datetime": format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}") })
}

/// A fixture's stdout: a string, or `{"bytes": "..."}` with one byte per character.
fn stdout_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Object(map) => {
            let chars = map["bytes"].as_str().expect("{\"bytes\": string}");
            chars.chars().map(|c| u8::try_from(u32::from(c)).expect("a character above U+00FF")).collect()
        }
        other => panic!("stdout is {other}"),
    }
}

/// Why the case does not hold, or `None`.
fn check_fact(parser: Parser, fixture: &Value) -> Option<String> {
    let stdout = stdout_bytes(&fixture["stdout"]);
    let rc = fixture["rc"].as_i64().expect("rc is an integer");
    match (parser(&stdout, rc), fixture.get("value"), fixture["error"].as_str()) {
        (Outcome::Value(got), Some(want), None) if &got == want => None,
        (Outcome::Failed(None), None, Some(_)) => None,
        (Outcome::Failed(Some(message)), None, Some(want)) if message.contains(want) => None,
        (got, _, _) => Some(format!("got {got:?}")),
    }
}

#[test]
fn fact_fixtures() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in fixtures("tests/facts") {
        let fact = path.parent().unwrap().file_name().unwrap().to_str().unwrap();
        let Some(parser) = rust_parser(fact) else {
            assert!(
                PARSED_IN_PYTHON.contains(&fact),
                "{fact}: pair it with its Rust parser in rust_parser(), or list it in PARSED_IN_PYTHON"
            );
            continue;
        };
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if fixture.get("command").is_none() {
            continue; // the fact refused its arguments: nothing ran, nothing to parse
        }
        ran += 1;
        if let Some(why) = check_fact(parser, &fixture) {
            failures.push(format!("{}: {why}", path.display()));
        }
    }
    assert!(ran >= 60, "only {ran} fixtures ran through a Rust parser");
    assert!(failures.is_empty(), "{} fixtures failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn datetimes_are_written_as_python_writes_them() {
    assert_eq!(datetime(0)["datetime"], "1970-01-01T00:00:00");
    assert_eq!(datetime(1_700_000_000)["datetime"], "2023-11-14T22:13:20");
    assert_eq!(datetime(951_825_600)["datetime"], "2000-02-29T12:00:00");
    assert_eq!(datetime(-1)["datetime"], "1969-12-31T23:59:59");
}
