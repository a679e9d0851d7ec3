//! Dependency cycles among an org's resources.
//!
//! An iterative depth-first search in document order; every edge that leads
//! back into the current path closes one cycle, reported once at the
//! `depends_on` entry of its first resource that starts it. Self-dependencies
//! are reported by the resource checks and skipped here.

use rustc_hash::FxHashMap;

use super::org::InOrg;
use super::{Name, Report};
use crate::document::Org;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    OnPath,
    Done,
}

pub(super) fn check(org: &Org, path: InOrg<'_>, names: &[Name<'_>], report: &mut Report) {
    let resources = &org.resources;
    let mut position: FxHashMap<&str, usize> =
        FxHashMap::with_capacity_and_hasher(resources.len(), Default::default());
    for (at, resource) in resources.iter().enumerate() {
        position.entry(resource.id.as_str()).or_insert(at);
    }
    // The resource a `depends_on` entry leads to, if it is another resource.
    let target = |from: usize, edge: usize| -> Option<usize> {
        let id = resources[from].depends_on[edge].as_str();
        position.get(id).copied().filter(|&to| to != from)
    };

    let mut marks = vec![Mark::New; resources.len()];
    // (resource, index of the `depends_on` entry being explored)
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..resources.len() {
        if marks[root] != Mark::New {
            continue;
        }
        marks[root] = Mark::OnPath;
        stack.push((root, 0));
        while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
            if *edge >= resources[node].depends_on.len() {
                marks[node] = Mark::Done;
                stack.pop();
                continue;
            }
            let current = *edge;
            *edge += 1;
            let Some(next) = target(node, current) else {
                continue;
            };
            match marks[next] {
                Mark::New => {
                    marks[next] = Mark::OnPath;
                    stack.push((next, 0));
                }
                Mark::OnPath => report_cycle(&stack, next, resources, path, names, report),
                Mark::Done => {}
            }
        }
    }
}

fn report_cycle(
    stack: &[(usize, usize)],
    start: usize,
    resources: &[crate::document::Resource],
    path: InOrg<'_>,
    names: &[Name<'_>],
    report: &mut Report,
) {
    let Some(from) = stack.iter().position(|&(node, _)| node == start) else {
        return;
    };
    let cycle = &stack[from..];
    let mut text: Vec<&str> = cycle
        .iter()
        .map(|&(node, _)| resources[node].id.as_str())
        .collect();
    text.push(resources[start].id.as_str());
    // The frame's counter is one past the entry that continued the path.
    let edge = cycle[0].1.saturating_sub(1);
    report.push(
        format!("{path}resources[{}].depends_on[{edge}]", names[start]),
        format!("dependency cycle `{}`", text.join(" -> ")),
    );
}
