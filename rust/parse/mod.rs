//! Parsing what remote commands print.
//!
//! * [`demux`] splits the output of one batched shell script into the
//!   output of each section, using marker lines that carry a nonce.
//! * [`parse_stat`], [`parse_hash`] and [`parse_lines`] turn the output of
//!   one fact command into a value.
//!
//! ```
//! use oxinfra::parse::{demux, parse_hash};
//!
//! let out = demux(b"hi\n@@OX-n0:E:0:0\n@@OX-n0:DONE\n", "n0")?;
//! assert_eq!(out.sections[0].output, b"hi");
//! assert!(out.done);
//! assert_eq!(parse_hash(b"AB12  -\n", 4), Some("ab12".to_string()));
//! # Ok::<(), oxinfra::CoreError>(())
//! ```

mod demux;
mod facts;

pub use demux::{demux, Demuxed, Section};
pub use facts::{parse_hash, parse_lines, parse_stat, FileType, Stat, StatResult};
