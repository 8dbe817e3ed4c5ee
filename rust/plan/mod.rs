//! Merging per-host operation sequences into one global order.
//!
//! Each host runs its operations in its own order, given as keys (indexes
//! into a label list). [`order_operations`] returns one order containing
//! every key that appears in any sequence, exactly once, such that each
//! host's sequence is a subsequence of it. Among operations that could come
//! next, the one that appeared first (scanning hosts in order) wins, so
//! identical inputs always give identical output.
//!
//! A key repeated within one host's sequence counts at its first position;
//! later repeats are ignored.
//!
//! ```
//! use oxinfra::plan::order_operations;
//!
//! let labels = ["a.py:1", "a.py:2", "a.py:3"];
//! let order = order_operations(&[vec![0, 2], vec![1, 2], vec![0, 1]], &labels)?;
//! assert_eq!(order, [0, 1, 2]);
//!
//! let err = order_operations(&[vec![0, 1], vec![1, 0]], &labels).unwrap_err();
//! assert!(err.to_string().contains(r#""a.py:1" runs before "a.py:2""#));
//! # Ok::<(), oxinfra::CoreError>(())
//! ```

use crate::error::{CoreError, Result};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: u32 = u32::MAX;

/// Merges host sequences into one order; see the [module docs](self).
///
/// Runs in O(total length + E log E) where E is the number of distinct
/// consecutive pairs, which is small when hosts mostly agree.
pub fn order_operations<L: AsRef<str>>(sequences: &[Vec<usize>], labels: &[L]) -> Result<Vec<usize>> {
    let count = labels.len();
    let mut node_of_key = vec![NONE; count];
    let mut key_of_node: Vec<usize> = Vec::new();
    let mut stamp = vec![NONE; count];
    let mut last_succ: Vec<u32> = Vec::new();
    let mut edges: Vec<(u32, u32)> = Vec::new();
    let mut previous: &[usize] = &[];
    for (host, seq) in sequences.iter().enumerate() {
        if seq.as_slice() == previous {
            continue;
        }
        previous = seq;
        let host = host as u32;
        let mut prev = NONE;
        for &key in seq {
            if key >= count {
                return Err(CoreError::UnknownOperation { key, count });
            }
            if stamp[key] == host {
                continue;
            }
            stamp[key] = host;
            if node_of_key[key] == NONE {
                node_of_key[key] = key_of_node.len() as u32;
                key_of_node.push(key);
                last_succ.push(NONE);
            }
            let node = node_of_key[key];
            if prev != NONE && last_succ[prev as usize] != node {
                last_succ[prev as usize] = node;
                edges.push((prev, node));
            }
            prev = node;
        }
    }
    edges.sort_unstable();
    edges.dedup();

    let nodes = key_of_node.len();
    let mut first_edge = vec![0usize; nodes + 1];
    let mut indegree = vec![0u32; nodes];
    for &(from, to) in &edges {
        first_edge[from as usize + 1] += 1;
        indegree[to as usize] += 1;
    }
    for i in 0..nodes {
        first_edge[i + 1] += first_edge[i];
    }

    let mut ready: BinaryHeap<Reverse<u32>> =
        (0..nodes as u32).filter(|&n| indegree[n as usize] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(nodes);
    while let Some(Reverse(node)) = ready.pop() {
        order.push(key_of_node[node as usize]);
        let node = node as usize;
        for &(_, to) in &edges[first_edge[node]..first_edge[node + 1]] {
            indegree[to as usize] -= 1;
            if indegree[to as usize] == 0 {
                ready.push(Reverse(to));
            }
        }
    }
    if order.len() == nodes {
        return Ok(order);
    }
    let (first, second) = find_cycle(&edges, &indegree);
    let label = |node: u32| labels[key_of_node[node as usize]].as_ref().to_string();
    Err(CoreError::OrderCycle { first: label(first), second: label(second) })
}

/// Returns an edge `(first, second)` on a cycle among the nodes Kahn's
/// algorithm could not place (those with `indegree > 0`), choosing the
/// earliest-appearing node of the cycle as `first`.
fn find_cycle(edges: &[(u32, u32)], indegree: &[u32]) -> (u32, u32) {
    let stuck = |n: u32| indegree[n as usize] > 0;
    let mut preds: Vec<Vec<u32>> = vec![Vec::new(); indegree.len()];
    for &(from, to) in edges {
        if stuck(from) && stuck(to) {
            preds[to as usize].push(from);
        }
    }
    let start = (0..indegree.len() as u32).find(|&n| stuck(n)).expect("a stuck node");
    let mut position = vec![NONE; indegree.len()];
    let mut path = vec![start];
    let mut node = start;
    loop {
        position[node as usize] = path.len() as u32 - 1;
        node = *preds[node as usize].iter().min().expect("stuck nodes have stuck predecessors");
        if position[node as usize] != NONE {
            break;
        }
        path.push(node);
    }
    let cycle = &path[position[node as usize] as usize..];
    let k = cycle.len();
    let j = (0..k).min_by_key(|&i| cycle[i]).unwrap();
    (cycle[j], cycle[(j + k - 1) % k])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: [&str; 6] = ["d.py:1", "d.py:2", "d.py:3", "d.py:4", "d.py:5", "d.py:6"];

    macro_rules! orders {
        ($($name:ident: [$($seq:expr),* $(,)?] => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                let seqs: Vec<Vec<usize>> = vec![$($seq.to_vec()),*];
                let expected: &[usize] = &$expected;
                assert_eq!(order_operations(&seqs, &LABELS).unwrap(), expected);
            }
        )*};
    }

    macro_rules! conflicts {
        ($($name:ident: [$($seq:expr),* $(,)?] => ($first:expr, $second:expr);)*) => {$(
            #[test]
            fn $name() {
                let seqs: Vec<Vec<usize>> = vec![$($seq.to_vec()),*];
                let err = order_operations(&seqs, &LABELS).unwrap_err();
                let (first, second) = ($first.to_string(), $second.to_string());
                assert_eq!(err, CoreError::OrderCycle { first, second });
            }
        )*};
    }

    orders! {
        nothing: [] => [];
        empty_hosts: [[], []] => [];
        one_host: [[2, 0, 1]] => [2, 0, 1];
        identical: [[0, 1, 2], [0, 1, 2], [0, 1, 2]] => [0, 1, 2];
        merge: [[0, 2], [1, 2], [0, 1]] => [0, 1, 2];
        tie_break_first_appearance: [[3], [1], [2]] => [3, 1, 2];
        tie_break_after_constraint: [[0, 2], [1, 2], [3]] => [0, 1, 2, 3];
        tie_break_earlier_unconstrained: [[3], [0, 2], [1, 2]] => [3, 0, 1, 2];
        conditional_ops: [[0, 1, 3], [0, 2, 3], [0, 3]] => [0, 1, 2, 3];
        duplicates_ignored: [[0, 1, 0, 2], [0, 2]] => [0, 1, 2];
        repeated_duplicates_no_self_loop: [[1, 1, 1]] => [1];
        later_host_adds_prefix: [[1, 2], [0, 1]] => [0, 1, 2];
    }

    conflicts! {
        swap: [[0, 1], [1, 0]] => ("d.py:1", "d.py:2");
        swap_reported_by_first_appearance: [[4, 2], [2, 4]] => ("d.py:5", "d.py:3");
        three_cycle: [[0, 1], [1, 2], [2, 0]] => ("d.py:1", "d.py:2");
        cycle_behind_prefix: [[5, 0, 1], [5, 1, 0, 3]] => ("d.py:1", "d.py:2");
        duplicate_then_swap: [[0, 1, 0], [1, 0]] => ("d.py:1", "d.py:2");
    }

    #[test]
    fn unknown_key() {
        let err = order_operations(&[vec![0, 9]], &LABELS).unwrap_err();
        assert_eq!(err, CoreError::UnknownOperation { key: 9, count: 6 });
    }

    #[test]
    fn many_hosts() {
        let labels: Vec<String> = (0..20).map(|i| format!("deploy.py:{i}")).collect();
        let mut seqs: Vec<Vec<usize>> = vec![(0..20).collect(); 100_000];
        for (i, seq) in seqs.iter_mut().enumerate().filter(|(i, _)| i % 7 == 0) {
            seq.retain(|&k| k % (i % 5 + 2) != 0);
        }
        assert_eq!(order_operations(&seqs, &labels).unwrap(), (0..20).collect::<Vec<_>>());
    }
}
