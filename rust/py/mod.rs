//! The `oxinfra._core` extension module: converts Python values to Rust
//! data, calls the core, and converts the results back.

use crate::error::CoreError;
use crate::inventory::HostPattern;
use crate::parse::{self, StatResult};
use crate::plan;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

create_exception!(
    oxinfra._core,
    HostPatternError,
    PyValueError,
    "A host pattern such as ``web[01:03]`` is malformed or expands to too many names."
);
create_exception!(
    oxinfra._core,
    OrderCycleError,
    PyValueError,
    "Operations run in opposite orders on different hosts, so no global order exists."
);
create_exception!(
    oxinfra._core,
    OutputParseError,
    PyValueError,
    "Command output did not have the expected shape."
);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let message = err.to_string();
        match err {
            CoreError::HostPattern { .. } => HostPatternError::new_err(message),
            CoreError::OrderCycle { .. } => OrderCycleError::new_err(message),
            CoreError::Parse { .. } => OutputParseError::new_err(message),
            _ => PyValueError::new_err(message),
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
        sections.append((s.index, s.status, PyBytes::new(py, s.output)))?;
    }
    (sections, PyBytes::new(py, out.rest), out.done).into_pyobject(py)
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

#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HostPatternError", py.get_type::<HostPatternError>())?;
    m.add("OrderCycleError", py.get_type::<OrderCycleError>())?;
    m.add("OutputParseError", py.get_type::<OutputParseError>())?;
    m.add_function(wrap_pyfunction!(expand_host_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(order_operations, m)?)?;
    m.add_function(wrap_pyfunction!(demux, m)?)?;
    m.add_function(wrap_pyfunction!(parse_stat, m)?)?;
    m.add_function(wrap_pyfunction!(parse_hash, m)?)?;
    m.add_function(wrap_pyfunction!(parse_lines, m)?)?;
    Ok(())
}
