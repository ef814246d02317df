//! `cargo xtask check`: what the compiler cannot see across features. Each
//! finding names the file and the fix.

use std::collections::BTreeMap;

use microcore_manifest::{EventRole, Manifest};

use crate::schema::properties;

/// How bad a finding is: errors fail CI, warnings are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fails `cargo xtask check`.
    Error,
    /// Printed only.
    Warning,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Error or warning.
    pub level: Level,
    /// What, where and the fix.
    pub message: String,
}

/// Every finding, errors first, sorted.
pub fn check(m: &Manifest) -> Vec<Finding> {
    let mut out = Vec::new();
    events(m, &mut out);
    contracts(m, &mut out);
    routes(m, &mut out);
    tables(m, &mut out);
    for p in &m.plugins {
        if !p.status.is_empty() && p.status != "READY" {
            out.push(error(format!(
                "{}: plugin `{}` failed its dry boot ({}); fix it so it boots (`cargo test` on that file shows the same failure)",
                p.file, p.name, p.status
            )));
        }
    }
    out.sort();
    out
}

fn error(message: String) -> Finding {
    Finding {
        level: Level::Error,
        message,
    }
}

fn warning(message: String) -> Finding {
    Finding {
        level: Level::Warning,
        message,
    }
}

fn file_of(m: &Manifest, plugin: &str) -> String {
    m.plugins
        .iter()
        .find(|p| p.name == plugin)
        .map_or_else(|| plugin.to_owned(), |p| p.file.clone())
}

fn events(m: &Manifest, out: &mut Vec<Finding>) {
    for s in &m.subscriptions {
        let published = m
            .events
            .iter()
            .any(|e| e.name == s.event && e.role == EventRole::Published);
        if !published {
            out.push(warning(format!(
                "{}: `{}` subscribes to `{}`, which no plugin publishes; publish it from the feature where it happens \
                 (declare `#[event(\"{}\")]` there), or remove the subscription",
                file_of(m, &s.plugin), s.subscriber, s.event, s.event
            )));
        }
    }
    for e in m.events.iter().filter(|e| e.role == EventRole::Published) {
        if !m.subscriptions.iter().any(|s| s.event == e.name) {
            out.push(warning(format!(
                "{}: `{}` is published but nobody consumes it; fine for a fact kept for later, otherwise subscribe to it \
                 or stop publishing it",
                e.file, e.name
            )));
        }
    }
}

fn contracts(m: &Manifest, out: &mut Vec<Finding>) {
    for s in &m.subscriptions {
        let sub_file = m
            .events
            .iter()
            .find(|e| e.name == s.event && e.plugin.as_deref() == Some(s.plugin.as_str()))
            .map_or_else(|| file_of(m, &s.plugin), |e| e.file.clone());
        for publisher in m
            .events
            .iter()
            .filter(|e| e.name == s.event && e.role == EventRole::Published)
        {
            let theirs: BTreeMap<String, (bool, String)> = properties(&publisher.schema)
                .into_iter()
                .map(|(name, req, ty)| (name, (req, ty)))
                .collect();
            for (field, required, ty) in properties(&s.schema) {
                let problem = match theirs.get(&field) {
                    None if required => Some(format!(
                        "needs field `{field}`, which `{}` does not publish",
                        publisher.file
                    )),
                    Some((false, _)) if required => Some(format!(
                        "needs field `{field}`, which `{}` may omit (it is optional there)",
                        publisher.file
                    )),
                    Some((_, theirs)) if !compatible(theirs, &ty) => Some(format!(
                        "reads `{field}` as {ty}, but `{}` publishes it as {theirs}",
                        publisher.file
                    )),
                    _ => None,
                };
                if let Some(problem) = problem {
                    out.push(error(format!(
                        "{sub_file}: `{}` ({}) {problem}; make `{}` in {sub_file} match the publisher's payload, \
                         or make the field `Option<…>`",
                        s.event, s.subscriber, s.payload_type
                    )));
                }
            }
        }
    }
}

/// Whether a value published as `published` deserialises as `read`.
fn compatible(published: &str, read: &str) -> bool {
    let base = |t: &str| t.trim_end_matches('?').to_owned();
    let (p, r) = (base(published), base(read));
    if published.ends_with('?') && !read.ends_with('?') {
        return false;
    }
    p == r
        || (p == "int" && r == "float")
        || (matches!(p.as_str(), "email" | "uuid" | "date-time" | "date") && r == "string")
        || r == "any"
        || (p.starts_with('{') && r.starts_with('{') && object_compatible(&p, &r))
}

/// Nested objects: every field the reader requires is present with the same text.
fn object_compatible(published: &str, read: &str) -> bool {
    let fields = |s: &str| -> Vec<String> {
        s.trim_matches(|c| c == '{' || c == '}')
            .split(", ")
            .map(str::to_owned)
            .collect()
    };
    let theirs = fields(published);
    fields(read)
        .iter()
        .filter(|f| !f.contains("?:"))
        .all(|f| theirs.contains(f))
}

fn routes(m: &Manifest, out: &mut Vec<Finding>) {
    let mut seen: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in &m.endpoints {
        seen.entry((e.method.clone(), e.path.clone()))
            .or_default()
            .push(e.owner.clone());
    }
    for ((method, path), owners) in seen.into_iter().filter(|(_, o)| o.len() > 1) {
        let files: Vec<String> = owners.iter().map(|o| file_of(m, o)).collect();
        out.push(error(format!(
            "{}: `{method} {path}` is registered by {}; one method and path belong to one feature: change the path in one of them",
            files.join(" and "),
            owners.join(" and ")
        )));
    }
}

fn tables(m: &Manifest, out: &mut Vec<Finding>) {
    let mut creators: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for mig in &m.migrations {
        for table in &mig.creates {
            creators
                .entry(table)
                .or_default()
                .push(format!("domains/{}/migrations/{}", mig.domain, mig.file));
        }
    }
    for (table, files) in creators {
        let mut domains: Vec<&str> = files.iter().filter_map(|f| f.split('/').nth(1)).collect();
        domains.sort_unstable();
        domains.dedup();
        if domains.len() > 1 {
            out.push(error(format!(
                "{}: table `{table}` is created by migrations of domains {}; a table belongs to one domain: \
                 keep it in one and let the others use events (or that domain's endpoints) instead",
                files.join(" and "),
                domains.join(" and ")
            )));
        }
    }
}
