//! The one error type of the core.
//!
//! Every fallible core function returns [`CoreError`]. The Python binding
//! maps each kind, in one `match`, to one exception class defined in
//! `oxinfra.exceptions` (all under `OxinfraError`, and each a `ValueError`):
//!
//! | kind                            | Python exception      | base            |
//! |---------------------------------|-----------------------|-----------------|
//! | [`CoreError::HostPattern`]      | `HostPatternError`    | `InventoryError` |
//! | [`CoreError::OrderCycle`]       | `OrderCycleError`     | `DeployError`   |
//! | [`CoreError::UnknownOperation`] | `ValueError` (a bug of the caller) | |
//! | [`CoreError::Parse`]            | `OutputParseError`    | `OxinfraError`  |
//! | [`CoreError::HostName`]         | `HostNameError`       | `InventoryError` |
//! | [`CoreError::Inventory`]        | `InventoryBuildError` | `InventoryError` |
//! | [`CoreError::Selection`]        | `HostSelectionError`  | `InventoryError` |
//!
//! ```
//! use oxinfra::{CoreError, inventory::HostPattern};
//!
//! let err = HostPattern::parse("web[10:01]").unwrap_err();
//! assert!(matches!(err, CoreError::HostPattern { .. }));
//! assert!(err.to_string().contains("write the smaller bound first"));
//! ```

use std::fmt;

/// Everything that can go wrong in the core. New kinds may be added, so
/// matches outside this crate need a wildcard arm; the binding's own match
/// has none, so a new kind cannot go unmapped.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// A host pattern such as `web[01:03]` is malformed or too large.
    /// `message` says what is wrong and how to fix it.
    HostPattern { pattern: String, message: String },
    /// Two operations run in opposite orders on different hosts, so no single
    /// global order exists. `first` and `second` are the labels of two
    /// operations on the cycle; `first` runs directly before `second` on some host.
    OrderCycle { first: String, second: String },
    /// An operation key has no label (the key is `>= count`).
    UnknownOperation { key: usize, count: usize },
    /// Command output did not have the expected shape (a marker line, a
    /// batched `stat`, one fact's output). `what` names the parser,
    /// `message` quotes the offending text.
    Parse { what: &'static str, message: String },
    /// A host name is not a hostname, an IP address or `@connector/target`.
    /// `message` says which character or part is wrong and how to fix it.
    HostName { name: String, message: String },
    /// An inventory entry cannot be loaded. `origin` says where the entry
    /// came from (`inventory.py:3: group 'web'`); `message` is the cause,
    /// usually a [`CoreError::HostPattern`] or [`CoreError::HostName`] text.
    Inventory { origin: String, message: String },
    /// A `--limit` pattern is malformed, names an unknown group or host, or
    /// matches nothing. `pattern` is the pattern as given.
    Selection { pattern: String, message: String },
}

impl CoreError {
    pub(crate) fn host_pattern(pattern: &str, message: impl Into<String>) -> CoreError {
        CoreError::HostPattern { pattern: pattern.to_string(), message: message.into() }
    }

    pub(crate) fn host_name(name: &str, message: impl Into<String>) -> CoreError {
        CoreError::HostName { name: name.to_string(), message: message.into() }
    }

    pub(crate) fn inventory(origin: &str, cause: impl fmt::Display) -> CoreError {
        CoreError::Inventory { origin: origin.to_string(), message: cause.to_string() }
    }

    pub(crate) fn selection(pattern: &str, message: impl Into<String>) -> CoreError {
        CoreError::Selection { pattern: pattern.to_string(), message: message.into() }
    }

    pub(crate) fn parse(what: &'static str, message: impl Into<String>) -> CoreError {
        CoreError::Parse { what, message: message.into() }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::HostPattern { pattern, message } => {
                write!(f, "invalid host pattern {pattern:?}: {message}")
            }
            CoreError::OrderCycle { first, second } => write!(
                f,
                "operation order conflict: {first:?} runs before {second:?} on some hosts \
                 and after it on others; make the order the same on every host \
                 (put the conditional operations in the same order)"
            ),
            CoreError::UnknownOperation { key, count } => write!(
                f,
                "operation key {key} has no label (there are {count} labels); \
                 pass one label per key, keys counting from 0"
            ),
            CoreError::Parse { what, message } => write!(f, "cannot parse {what} output: {message}"),
            CoreError::HostName { name, message } => {
                write!(f, "{name:?} is not a valid host name: {message}")
            }
            CoreError::Inventory { origin, message } if origin.is_empty() => f.write_str(message),
            CoreError::Inventory { origin, message } => write!(f, "{origin}: {message}"),
            CoreError::Selection { pattern, message } => write!(f, "--limit {pattern:?}: {message}"),
        }
    }
}

impl std::error::Error for CoreError {}

/// Shorthand for results of core functions.
pub type Result<T> = std::result::Result<T, CoreError>;
