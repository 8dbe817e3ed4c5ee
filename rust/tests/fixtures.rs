//! Runs the JSON fixtures through the core parsers. The same files drive
//! `tests/test_core.py`:
//!
//! * `tests/facts/<fact>/<case>.json`: one fact command's output;
//! * `tests/parse/demux/<case>.json`: marker lines and their statuses;
//! * `tests/parse/stat_batch/<case>.json`: the output of one batched `stat`.
//!
//! A fixture with `"error"` expects a parse error whose message contains it.

use oxinfra::parse::{demux, parse_hash, parse_lines, parse_stat, split_stat_batch, StatResult, Status};
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

fn run_fact(fixture: &Value) -> Result<Value, CoreError> {
    let stdout = text(fixture, "stdout");
    let rc = fixture["rc"].as_i64().expect("rc is an integer");
    let args = &fixture["args"];
    Ok(match fixture["parser"].as_str().expect("parser is a string") {
        "stat" => match parse_stat(args["expected"].as_str().unwrap(), stdout, rc)? {
            StatResult::Absent => Value::Null,
            StatResult::WrongType(_) => Value::Bool(false),
            StatResult::Found(s) => {
                let mut value = json!({
                    "user": s.user, "group": s.group, "mode": s.mode, "size": s.size,
                    "atime": s.atime, "mtime": s.mtime, "ctime": s.ctime,
                });
                if let Some(target) = s.link_target {
                    value["link_target"] = json!(target);
                }
                value
            }
        },
        "hash" => json!(parse_hash(stdout, args["digits"].as_u64().unwrap() as usize)),
        "lines" => json!(parse_lines(stdout, rc, args["absent_rc"].as_i64().unwrap())),
        other => panic!("unknown parser {other:?}"),
    })
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
    let out = split_stat_batch(text(fixture, "stat"), text(fixture, "links"), nonce, &paths)?;
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
fn fact_fixtures() {
    check("tests/facts", 30, run_fact);
}

#[test]
fn demux_fixtures() {
    check("tests/parse/demux", 10, run_demux);
}

#[test]
fn stat_batch_fixtures() {
    check("tests/parse/stat_batch", 25, run_stat_batch);
}
