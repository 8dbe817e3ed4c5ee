//! The `oxinfra._core` extension module: converts Python values to Rust
//! data, calls the core, and converts the results back.

// pyo3 hands arguments over as owned values (`Vec<String>`, ...), read here without being consumed.
#![allow(clippy::needless_pass_by_value)]

use crate::error::CoreError;
use crate::inventory::{self, HostPattern, HostSelector, Layout, LayoutBuilder};
use crate::parse::{self, StatResult, Status};
use crate::plan;
use pyo3::exceptions::PyValueError;
use pyo3::import_exception;
use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use std::collections::BTreeMap;

// Defined in Python, in oxinfra's one exception hierarchy (python/oxinfra/exceptions.py);
// that module imports nothing of the core, so importing it from here makes no cycle.
import_exception!(oxinfra.exceptions, HostPatternError);
import_exception!(oxinfra.exceptions, OrderCycleError);
import_exception!(oxinfra.exceptions, OutputParseError);
import_exception!(oxinfra.exceptions, HostNameError);
import_exception!(oxinfra.exceptions, InventoryBuildError);
import_exception!(oxinfra.exceptions, HostSelectionError);

/// The one place a core error becomes a Python exception: one class per kind.
impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let message = err.to_string();
        match err {
            CoreError::HostPattern { .. } => HostPatternError::new_err(message),
            CoreError::OrderCycle { .. } => OrderCycleError::new_err(message),
            // A key without a label is a bug of the caller, not bad input: a plain ValueError.
            CoreError::UnknownOperation { .. } => PyValueError::new_err(message),
            CoreError::Parse { .. } => OutputParseError::new_err(message),
            CoreError::HostName { .. } => HostNameError::new_err(message),
            CoreError::Inventory { .. } => InventoryBuildError::new_err(message),
            CoreError::Selection { .. } => HostSelectionError::new_err(message),
        }
    }
}

/// Runs `work` with the GIL released. `work` must only touch Rust data.
fn without_gil<T: Ungil, F: Ungil + FnOnce() -> T>(py: Python<'_>, work: F) -> T {
    py.allow_threads(work)
}

#[pyfunction]
fn expand_host_pattern(py: Python<'_>, pattern: String) -> PyResult<Vec<String>> {
    Ok(without_gil(py, || HostPattern::parse(&pattern).map(|p| p.expand()))?)
}

#[pyfunction]
fn check_host_name(name: &str) -> PyResult<()> {
    Ok(inventory::check_host_name(name)?)
}

/// One group as Python describes it: name, origin, patterns (None: every
/// host), data ids per pattern (-1: none; empty: none at all), origins per
/// pattern (empty: the group's origin).
type GroupSpec = (String, String, Option<Vec<String>>, Vec<i64>, Vec<String>);

#[pyclass(frozen, module = "oxinfra._core")]
struct InventoryLayout {
    layout: Layout,
}

#[pymethods]
impl InventoryLayout {
    #[new]
    fn new(py: Python<'_>, groups: Vec<GroupSpec>) -> PyResult<Self> {
        let layout = without_gil(py, || {
            let mut builder = LayoutBuilder::new();
            for (name, origin, patterns, data, origins) in &groups {
                let Some(patterns) = patterns else {
                    builder.everyone(name, origin);
                    continue;
                };
                let mut group = builder.group(name, origin);
                for (i, pattern) in patterns.iter().enumerate() {
                    let id = data.get(i).and_then(|&d| u32::try_from(d).ok());
                    match origins.get(i) {
                        Some(at) => group.entry_at(pattern, id, at),
                        None => group.entry(pattern, id),
                    };
                }
            }
            builder.build()
        })?;
        Ok(InventoryLayout { layout })
    }

    #[getter]
    fn hosts(&self) -> Vec<String> {
        self.layout.hosts().to_vec()
    }

    #[getter]
    fn groups(&self) -> Vec<String> {
        self.layout.groups().to_vec()
    }

    fn members(&self) -> Vec<Vec<u32>> {
        (0..self.layout.groups().len() as u32).map(|g| self.layout.group_hosts(g).to_vec()).collect()
    }

    fn group_sets(&self) -> (Vec<u32>, Vec<Vec<u32>>) {
        (self.layout.host_group_sets().to_vec(), self.layout.group_sets().to_vec())
    }

    fn data_sets(&self) -> (Vec<u32>, Vec<Vec<u32>>) {
        (self.layout.host_data_sets().to_vec(), self.layout.data_sets().to_vec())
    }

    fn select(&self, py: Python<'_>, patterns: Vec<String>) -> PyResult<Vec<u32>> {
        let layout = &self.layout;
        Ok(without_gil(py, || {
            let mut builder = HostSelector::builder();
            for pattern in &patterns {
                builder.add(pattern);
            }
            builder.build()?.select(layout)
        })?)
    }

    fn __len__(&self) -> usize {
        self.layout.hosts().len()
    }
}

#[pyfunction]
fn order_operations(py: Python<'_>, sequences: Vec<Vec<usize>>, labels: Vec<String>) -> PyResult<Vec<usize>> {
    Ok(without_gil(py, || plan::order_operations(&sequences, &labels))?)
}

// `data` borrows the immutable `bytes` object, which the caller's argument
// keeps alive, so no copy is needed before releasing the GIL.
#[pyfunction]
fn demux<'py>(py: Python<'py>, data: &[u8], nonce: &str) -> PyResult<Bound<'py, PyTuple>> {
    let out = without_gil(py, || parse::demux(data, nonce))?;
    let sections = PyList::empty(py);
    for s in out.sections {
        let status = match s.status {
            Status::Exit(rc) => Some(rc),
            Status::Stale => None,
        };
        sections.append((s.index, status, PyBytes::new(py, s.output)))?;
    }
    (sections, PyBytes::new(py, out.rest), out.done).into_pyobject(py)
}

#[pyfunction]
fn split_stat_batch<'py>(
    py: Python<'py>,
    absent: &[u8],
    stat: &[u8],
    links: &[u8],
    nonce: &str,
    paths: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Vec<(Bound<'py, PyBytes>, i32)>> {
    let paths: Vec<&[u8]> = paths.iter().map(PyBytesMethods::as_bytes).collect();
    let split = parse::split_stat_batch(absent, stat, links, nonce, &paths)?;
    Ok(split.into_iter().map(|p| (PyBytes::new(py, &p.stdout), p.rc)).collect())
}

#[pyfunction]
fn parse_stat<'py>(py: Python<'py>, expected: &str, stdout: &[u8], rc: i64) -> PyResult<Bound<'py, PyAny>> {
    let stat = match parse::parse_stat(expected, stdout, rc)? {
        StatResult::Absent => return Ok(py.None().into_bound(py)),
        StatResult::WrongType(_) => return Ok(false.into_pyobject(py)?.to_owned().into_any()),
        StatResult::Found(stat) => stat,
    };
    let dict = PyDict::new(py);
    dict.set_item("user", stat.user)?;
    dict.set_item("group", stat.group)?;
    dict.set_item("mode", stat.mode)?;
    dict.set_item("size", stat.size)?;
    dict.set_item("atime", stat.atime)?;
    dict.set_item("mtime", stat.mtime)?;
    dict.set_item("ctime", stat.ctime)?;
    if let Some(target) = stat.link_target {
        // as os.fsdecode: bytes that are not UTF-8 kept as surrogates, so the name written
        // back (quoted, encoded with surrogateescape) is the same target
        let target = PyString::from_object(&PyBytes::new(py, &target), "utf-8", "surrogateescape")?;
        dict.set_item("link_target", target)?;
    }
    Ok(dict.into_any())
}

#[pyfunction]
fn parse_hash(stdout: &[u8], digits: usize) -> Option<String> {
    parse::parse_hash(stdout, digits)
}

#[pyfunction]
fn parse_lines(stdout: &[u8], rc: i64, absent_rc: i64) -> Option<Vec<String>> {
    parse::parse_lines(stdout, rc, absent_rc)
}

#[pyfunction]
fn split_release_files<'py>(py: Python<'py>, stdout: &[u8]) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
    let files = parse::split_release_files(stdout)?;
    Ok(files.into_iter().map(|(path, body)| (path, PyBytes::new(py, &body))).collect())
}

#[pyfunction]
fn parse_os_release(text: &str) -> PyResult<Vec<(String, String)>> {
    Ok(parse::parse_os_release(text)?)
}

/// One device of `parse_ip_addr`: name, state, ether, mtu, IPv4 and IPv6 addresses.
type PyNetDevice = (
    String,
    String,
    Option<String>,
    Option<u64>,
    Vec<(String, u32, String, Option<String>)>,
    Vec<(String, u32)>,
);

#[pyfunction]
fn parse_ip_addr(text: &str) -> PyResult<Vec<PyNetDevice>> {
    Ok(parse::parse_ip_addr(text)?
        .into_iter()
        .map(|d| {
            let ipv4 = d.ipv4.into_iter().map(|a| (a.address, a.mask_bits, a.netmask, a.broadcast)).collect();
            let ipv6 = d.ipv6.into_iter().map(|a| (a.address, a.mask_bits)).collect();
            (d.name, d.state, d.ether, d.mtu, ipv4, ipv6)
        })
        .collect())
}

#[pyfunction]
fn parse_package_listing(
    py: Python<'_>,
    format: &str,
    stdout: &[u8],
) -> PyResult<BTreeMap<String, Vec<String>>> {
    let Some(format) = parse::ListingFormat::from_name(format) else {
        return Err(PyValueError::new_err(format!(
            "unknown package listing format {format:?} (dpkg, rpm, pacman, apk)"
        )));
    };
    let stdout = stdout.to_vec();
    Ok(without_gil(py, move || parse::parse_package_listing(format, &stdout))?)
}

/// `server.Users`: one tuple per account, in `/etc/passwd` order.
type UserTuple = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Vec<String>,
    u32,
    u32,
    Option<String>,
    Option<(i32, u32, u32, u32, u32, u32, i32)>,
    String,
);

#[pyfunction]
fn parse_users(py: Python<'_>, stdout: &[u8]) -> PyResult<Vec<UserTuple>> {
    let users = without_gil(py, || parse::parse_users(stdout))?;
    Ok(users
        .into_iter()
        .map(|u| {
            let time = u.login_time.map(|t| (t.year, t.month, t.day, t.hour, t.minute, t.second, t.offset));
            (u.name, u.home, u.comment, u.shell, u.group, u.groups, u.uid, u.gid, u.lastlog, time, u.password)
        })
        .collect())
}

#[pyfunction]
fn parse_groups(stdout: &[u8]) -> PyResult<Vec<String>> {
    Ok(parse::parse_groups(stdout)?)
}

/// `server.Sysctl`: `(key, words)` where each word is `(is_int, text)`, or `(key, text)`.
#[pyfunction]
fn parse_sysctl<'py>(py: Python<'py>, stdout: &[u8]) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let mut out = Vec::new();
    for (key, value) in parse::parse_sysctl(stdout) {
        let value = match value {
            parse::SysctlValue::Text(text) => text.into_pyobject(py)?.into_any(),
            parse::SysctlValue::Items(items) => {
                let words: Vec<(bool, String)> = items
                    .into_iter()
                    .map(|i| match i {
                        parse::SysctlItem::Int(t) => (true, t),
                        parse::SysctlItem::Str(t) => (false, t),
                    })
                    .collect();
                words.into_pyobject(py)?.into_any()
            }
        };
        out.push((key, value));
    }
    Ok(out)
}

/// `server.Mounts`: `(path, device, type, options)` per mount point.
type MountTuple = (String, String, String, Vec<String>);

#[pyfunction]
fn parse_mountinfo(stdout: &[u8]) -> PyResult<Vec<MountTuple>> {
    Ok(parse::parse_mountinfo(stdout)?
        .into_iter()
        .map(|m| (m.path, m.device, m.fs_type, m.options))
        .collect())
}

#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<InventoryLayout>()?;
    m.add_function(wrap_pyfunction!(check_host_name, m)?)?;
    m.add_function(wrap_pyfunction!(expand_host_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(order_operations, m)?)?;
    m.add_function(wrap_pyfunction!(demux, m)?)?;
    m.add_function(wrap_pyfunction!(split_stat_batch, m)?)?;
    m.add_function(wrap_pyfunction!(parse_stat, m)?)?;
    m.add_function(wrap_pyfunction!(parse_hash, m)?)?;
    m.add_function(wrap_pyfunction!(parse_lines, m)?)?;
    m.add_function(wrap_pyfunction!(split_release_files, m)?)?;
    m.add_function(wrap_pyfunction!(parse_os_release, m)?)?;
    m.add_function(wrap_pyfunction!(parse_ip_addr, m)?)?;
    m.add_function(wrap_pyfunction!(parse_package_listing, m)?)?;
    m.add_function(wrap_pyfunction!(parse_users, m)?)?;
    m.add_function(wrap_pyfunction!(parse_groups, m)?)?;
    m.add_function(wrap_pyfunction!(parse_sysctl, m)?)?;
    m.add_function(wrap_pyfunction!(parse_mountinfo, m)?)?;
    Ok(())
}
