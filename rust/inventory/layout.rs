//! From groups of host patterns to hosts, memberships and data layers.
//!
//! The caller describes groups in *ordinal* order: each group has a name,
//! an origin (where it was defined, for error messages) and entries, each a
//! host pattern with an optional data id (an index into the caller's own
//! table of data; the core never sees the data). [`LayoutBuilder::build`]
//! expands every pattern, checks every name and returns a [`Layout`]:
//!
//! * hosts, deduplicated, in first-seen order (groups in ordinal order,
//!   entries in order, names in pattern order);
//! * each group's hosts, deduplicated, in the same order;
//! * each host's groups in ordinal order, and the data ids of the entries
//!   that named it, in entry order. Both are *interned*: hosts with the same
//!   groups share one set, so a caller computes per set, not per host.
//!
//! The group `all` holds every host and never appears in a host's group set
//! (its data is the lowest group layer). A group added with
//! [`LayoutBuilder::everyone`] also holds every host, but is an ordinary
//! layer at its ordinal (an inventory file's own name is such a group).
//! Groups with the same name are one group at the first one's ordinal.
//!
//! ```
//! use oxinfra::inventory::LayoutBuilder;
//!
//! let mut builder = LayoutBuilder::new();
//! builder.group("web", "inv.py:1").entry("web[1:2]", None);
//! builder.group("db", "inv.py:2").entry("db1", Some(0)).entry("web2", None);
//! let layout = builder.build()?;
//! assert_eq!(layout.hosts(), ["web1", "web2", "db1"]);
//! let web2 = layout.group_set(1); // web2 is in web (0) and db (1)
//! assert_eq!(layout.group_names(web2), ["web", "db"]);
//! assert_eq!(layout.data_set(2), [0]); // db1's entry carries data id 0
//! # Ok::<(), oxinfra::CoreError>(())
//! ```

use std::collections::HashMap;

use super::name::check_host_name;
use super::HostPattern;
use crate::error::{CoreError, Result};

/// The name of the group every host belongs to.
pub const ALL: &str = "all";

/// Describes groups and entries; see the [module docs](self).
#[derive(Debug, Default)]
pub struct LayoutBuilder {
    groups: Vec<GroupSpec>,
    by_name: HashMap<String, usize>,
}

#[derive(Debug)]
struct GroupSpec {
    name: String,
    origin: String,
    everyone: bool,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    pattern: String,
    data: Option<u32>,
    origin: Option<String>,
}

/// Adds entries to one group of a [`LayoutBuilder`].
#[derive(Debug)]
pub struct GroupBuilder<'a> {
    spec: &'a mut GroupSpec,
}

impl GroupBuilder<'_> {
    /// Adds a host pattern; `data` is the caller's id of its host data.
    pub fn entry(&mut self, pattern: &str, data: Option<u32>) -> &mut Self {
        self.spec.entries.push(Entry { pattern: pattern.to_string(), data, origin: None });
        self
    }

    /// Like [`entry`](Self::entry), with its own origin for error messages.
    pub fn entry_at(&mut self, pattern: &str, data: Option<u32>, origin: &str) -> &mut Self {
        self.spec.entries.push(Entry {
            pattern: pattern.to_string(),
            data,
            origin: Some(origin.to_string()),
        });
        self
    }
}

impl LayoutBuilder {
    /// An empty builder.
    pub fn new() -> LayoutBuilder {
        LayoutBuilder::default()
    }

    /// Adds (or reopens) the group `name`. `origin` prefixes error messages
    /// about its entries.
    pub fn group(&mut self, name: &str, origin: &str) -> GroupBuilder<'_> {
        let index = if let Some(&index) = self.by_name.get(name) {
            index
        } else {
            self.by_name.insert(name.to_string(), self.groups.len());
            self.groups.push(GroupSpec {
                name: name.to_string(),
                origin: origin.to_string(),
                everyone: name == ALL,
                entries: Vec::new(),
            });
            self.groups.len() - 1
        };
        GroupBuilder { spec: &mut self.groups[index] }
    }

    /// Adds (or marks) the group `name` as holding every host.
    pub fn everyone(&mut self, name: &str, origin: &str) -> GroupBuilder<'_> {
        let group = self.group(name, origin);
        group.spec.everyone = true;
        group
    }

    /// Expands every pattern and checks every host name.
    ///
    /// Errors are [`CoreError::Inventory`], prefixed with the entry's origin.
    pub fn build(mut self) -> Result<Layout> {
        if !self.by_name.contains_key(ALL) {
            self.everyone(ALL, "");
        }
        let mut hosts: Vec<String> = Vec::new();
        let mut host_index: HashMap<String, u32> = HashMap::new();
        let mut host_groups: Vec<Vec<u32>> = Vec::new();
        let mut host_data: Vec<Vec<u32>> = Vec::new();
        let mut group_hosts: Vec<Vec<u32>> = Vec::with_capacity(self.groups.len());
        let all = self.by_name[ALL] as u32;
        for (ordinal, spec) in self.groups.iter().enumerate() {
            let ordinal = ordinal as u32;
            let mut members = Vec::new();
            for entry in &spec.entries {
                let origin = entry.origin.as_deref().unwrap_or(&spec.origin);
                let pattern =
                    HostPattern::parse(&entry.pattern).map_err(|e| CoreError::inventory(origin, e))?;
                for name in &pattern {
                    let index = if let Some(&index) = host_index.get(&name) {
                        index
                    } else {
                        check_host_name(&name).map_err(|e| CoreError::inventory(origin, e))?;
                        let index = hosts.len() as u32;
                        host_index.insert(name.clone(), index);
                        hosts.push(name);
                        host_groups.push(Vec::new());
                        host_data.push(Vec::new());
                        index
                    };
                    let groups = &mut host_groups[index as usize];
                    if groups.last() != Some(&ordinal) {
                        groups.push(ordinal);
                        members.push(index);
                    }
                    if let Some(data) = entry.data {
                        let data_ids = &mut host_data[index as usize];
                        if !data_ids.contains(&data) {
                            data_ids.push(data);
                        }
                    }
                }
            }
            group_hosts.push(members);
        }
        let everyone: Vec<u32> =
            (0..self.groups.len() as u32).filter(|&g| self.groups[g as usize].everyone).collect();
        let every_host: Vec<u32> = (0..hosts.len() as u32).collect();
        for &g in &everyone {
            group_hosts[g as usize].clone_from(&every_host);
        }
        for groups in &mut host_groups {
            for &g in &everyone {
                if g != all {
                    if let Err(at) = groups.binary_search(&g) {
                        groups.insert(at, g);
                    }
                }
            }
            groups.retain(|&g| g != all);
        }
        let (host_group_set, group_sets) = intern(host_groups);
        let (host_data_set, data_sets) = intern(host_data);
        let groups: Vec<String> = self.groups.into_iter().map(|g| g.name).collect();
        let group_index = groups.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        Ok(Layout {
            hosts,
            host_index,
            groups,
            group_index,
            group_hosts,
            host_group_set,
            group_sets,
            host_data_set,
            data_sets,
        })
    }
}

/// Replaces each list by an index into a table of distinct lists. The empty
/// list, when present, is not necessarily index 0.
fn intern(lists: Vec<Vec<u32>>) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut table: Vec<Vec<u32>> = Vec::new();
    let mut seen: HashMap<Vec<u32>, u32> = HashMap::new();
    let ids = lists
        .into_iter()
        .map(|list| {
            *seen.entry(list).or_insert_with_key(|list| {
                table.push(list.clone());
                table.len() as u32 - 1
            })
        })
        .collect();
    (ids, table)
}

/// The hosts and groups of an inventory; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Layout {
    hosts: Vec<String>,
    host_index: HashMap<String, u32>,
    groups: Vec<String>,
    group_index: HashMap<String, u32>,
    group_hosts: Vec<Vec<u32>>,
    host_group_set: Vec<u32>,
    group_sets: Vec<Vec<u32>>,
    host_data_set: Vec<u32>,
    data_sets: Vec<Vec<u32>>,
}

impl Layout {
    /// Host names, in first-seen order.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The index of the host called `name`.
    pub fn host(&self, name: &str) -> Option<u32> {
        self.host_index.get(name).copied()
    }

    /// Group names, by ordinal.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The ordinal of the group called `name`.
    pub fn group(&self, name: &str) -> Option<u32> {
        self.group_index.get(name).copied()
    }

    /// The hosts of the group with ordinal `group`, in host order.
    pub fn group_hosts(&self, group: u32) -> &[u32] {
        &self.group_hosts[group as usize]
    }

    /// The group set of host `host`: ordinals, ascending, without `all`.
    pub fn group_set(&self, host: u32) -> &[u32] {
        &self.group_sets[self.host_group_set[host as usize] as usize]
    }

    /// The data ids of the entries that named host `host`, in entry order.
    pub fn data_set(&self, host: u32) -> &[u32] {
        &self.data_sets[self.host_data_set[host as usize] as usize]
    }

    /// Names of the groups with the given ordinals.
    pub fn group_names(&self, ordinals: &[u32]) -> Vec<&str> {
        ordinals.iter().map(|&g| self.groups[g as usize].as_str()).collect()
    }

    /// Per host, the index of its group set in [`group_sets`](Self::group_sets).
    pub fn host_group_sets(&self) -> &[u32] {
        &self.host_group_set
    }

    /// The distinct group sets.
    pub fn group_sets(&self) -> &[Vec<u32>] {
        &self.group_sets
    }

    /// Per host, the index of its data set in [`data_sets`](Self::data_sets).
    pub fn host_data_sets(&self) -> &[u32] {
        &self.host_data_set
    }

    /// The distinct data sets.
    pub fn data_sets(&self) -> &[Vec<u32>] {
        &self.data_sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Spec<'a> = &'a [(&'a str, &'a [(&'a str, Option<u32>)])];

    fn build(spec: Spec<'_>) -> Result<Layout> {
        let mut builder = LayoutBuilder::new();
        for (i, (name, entries)) in spec.iter().enumerate() {
            let origin = format!("inv.py:{}: group '{name}'", i + 1);
            if entries.is_empty() && name.starts_with('*') {
                builder.everyone(&name[1..], &origin);
                continue;
            }
            let mut group = builder.group(name, &origin);
            for (pattern, data) in *entries {
                group.entry(pattern, *data);
            }
        }
        builder.build()
    }

    /// (host, its group names, its data ids), per host in order.
    fn summary(layout: &Layout) -> Vec<(String, Vec<&str>, Vec<u32>)> {
        (0..layout.hosts().len() as u32)
            .map(|h| {
                (
                    layout.hosts()[h as usize].clone(),
                    layout.group_names(layout.group_set(h)),
                    layout.data_set(h).to_vec(),
                )
            })
            .collect()
    }

    macro_rules! layouts {
        ($($test:ident: $spec:expr => [$(($host:expr, [$($group:expr),*], [$($data:expr),*])),* $(,)?];)*) => {$(
            #[test]
            fn $test() {
                let layout = build($spec).unwrap();
                let expected: Vec<(String, Vec<&str>, Vec<u32>)> =
                    vec![$(($host.to_string(), vec![$($group),*], vec![$($data),*])),*];
                assert_eq!(summary(&layout), expected);
            }
        )*};
    }

    macro_rules! rejects {
        ($($test:ident: $spec:expr => $needle:expr;)*) => {$(
            #[test]
            fn $test() {
                let err = build($spec).unwrap_err();
                assert!(matches!(err, CoreError::Inventory { .. }), "{err:?}");
                let text = err.to_string();
                assert!(text.contains($needle), "{text:?} lacks {:?}", $needle);
            }
        )*};
    }

    layouts! {
        one_group: &[("web", &[("web[1:2]", None)])] => [("web1", ["web"], []), ("web2", ["web"], [])];
        first_seen_order: &[("a", &[("h2", None), ("h1", None)]), ("b", &[("h3", None), ("h2", None)])]
            => [("h2", ["a", "b"], []), ("h1", ["a"], []), ("h3", ["b"], [])];
        duplicate_in_group: &[("a", &[("h1", None), ("h[1:2]", None)])] => [("h1", ["a"], []), ("h2", ["a"], [])];
        data_ids_in_entry_order: &[("a", &[("h1", Some(3))]), ("b", &[("h1", Some(1)), ("h1", Some(3))])]
            => [("h1", ["a", "b"], [3, 1])];
        all_is_not_a_layer: &[("all", &[("h1", None)]), ("web", &[("h2", None)])]
            => [("h1", [], []), ("h2", ["web"], [])];
        everyone_at_its_ordinal: &[("*inv", &[]), ("web", &[("h1", None)]), ("db", &[("h2", None)])]
            => [("h1", ["inv", "web"], []), ("h2", ["inv", "db"], [])];
        everyone_last: &[("web", &[("h1", None)]), ("*inv", &[])] => [("h1", ["web", "inv"], [])];
        reopened_group: &[("a", &[("h1", None)]), ("b", &[("h2", None)]), ("a", &[("h3", None)])]
            => [("h1", ["a"], []), ("h3", ["a"], []), ("h2", ["b"], [])];
        connector_names: &[("a", &[("@local", None), ("@docker/app", None)])]
            => [("@local", ["a"], []), ("@docker/app", ["a"], [])];
    }

    rejects! {
        reversed_range: &[("web", &[("web[10:01]", None)])] => "inv.py:1: group 'web': invalid host pattern \"web[10:01]\"";
        bad_name: &[("a", &[("h1", None)]), ("b", &[("bad host", None)])] => "inv.py:2: group 'b': \"bad host\" is not a valid host name";
        bad_expanded_name: &[("a", &[("-h[1:2]", None)])] => "\"-h1\" is not a valid host name";
    }

    #[test]
    fn groups_and_members() {
        let layout = build(&[("web", &[("w[1:3]", None)]), ("db", &[("d1", None), ("w2", None)])]).unwrap();
        assert_eq!(layout.groups(), ["web", "db", "all"]);
        assert_eq!(layout.group_hosts(layout.group("db").unwrap()), [3, 1]);
        assert_eq!(layout.group_hosts(layout.group("all").unwrap()), [0, 1, 2, 3]);
        assert_eq!(layout.host("w2"), Some(1));
        assert_eq!(layout.host("nope"), None);
    }

    #[test]
    fn sets_are_interned() {
        let layout = build(&[("web", &[("w[1:1000]", Some(0))]), ("db", &[("w[1:10]", None)])]).unwrap();
        assert_eq!(layout.group_sets().len(), 2);
        assert_eq!(layout.data_sets().len(), 1);
        assert_eq!(layout.host_group_sets().len(), 1000);
    }

    #[test]
    fn entry_origin_overrides_group_origin() {
        let mut builder = LayoutBuilder::new();
        builder.group("web", "hosts.ini").entry("ok", None).entry_at("web[a:1]", None, "hosts.ini:7");
        let err = builder.build().unwrap_err().to_string();
        assert!(err.starts_with("hosts.ini:7: invalid host pattern"), "{err}");
    }
}
