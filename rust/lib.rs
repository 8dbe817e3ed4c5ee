//! The Rust core of oxinfra.
//!
//! * [`inventory`] expands host patterns such as `web[01:20].example.com`.
//! * [`plan`] merges per-host operation sequences into one global order.
//! * [`parse`] splits batched command output and parses fact output.
//!
//! The core is plain Rust and knows nothing of Python; the `python` feature
//! adds the binding layer that builds the `oxinfra._core` extension module.
//! Every fallible function returns [`CoreError`].

pub mod error;
pub mod inventory;
pub mod parse;
pub mod plan;

#[cfg(feature = "python")]
mod py;

pub use error::CoreError;
