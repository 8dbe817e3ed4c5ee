//! Parsing what remote commands print.
//!
//! * [`demux`] splits the output of one batched shell script into the
//!   output of each section, using marker lines that carry a nonce.
//!   Each marker's status is parsed into a [`Status`].
//! * [`split_stat_batch`] splits the output of one `stat` that read many
//!   paths into what each path's own fact command prints.
//! * [`parse_stat`], [`parse_hash`] and [`parse_lines`] turn the output of
//!   one fact command into a value.
//! * [`parse_users`] and [`parse_groups`] read the account databases, [`parse_sysctl`]
//!   kernel settings, [`parse_mountinfo`] mounted file systems.
//! * [`split_release_files`] and [`parse_os_release`] read `/etc/*-release`.
//! * [`parse_ip_addr`] reads `ip addr show` / `ifconfig -a`.
//! * [`parse_package_listing`] reads the installed packages that dpkg, rpm,
//!   pacman and apk list.
//!
//! Output that does not have the expected shape is a [`CoreError::Parse`](crate::CoreError::Parse)
//! (`OutputParseError` in Python), never a panic.
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

mod accounts;
mod demux;
mod facts;
mod mounts;
mod netdev;
mod packages;
mod release;
mod statbatch;
mod sysctl;

pub use accounts::{parse_groups, parse_users, LoginTime, UserEntry, GROUP_MARK, LASTLOG_MARK, SHADOW_MARK};
pub use demux::{demux, Demuxed, Section, Status};
pub use facts::{parse_hash, parse_lines, parse_stat, FileType, Stat, StatResult};
pub use mounts::{parse_mountinfo, Mount};
pub use netdev::{parse_ip_addr, Ipv4, Ipv6, NetDevice};
pub use packages::{parse_package_listing, ListingFormat, Packages};
pub use release::{parse_os_release, split_release_files};
pub use statbatch::{split_stat_batch, PathStat, ABSENT, FAILED};
pub use sysctl::{parse_sysctl, SysctlItem, SysctlValue};
