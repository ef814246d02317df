//! The names `use microcore::prelude::*;` brings into a plugin file, read from
//! the prelude's source so AI_CONTEXT.md lists exactly what exists: an agent
//! that sees a name here can use it without an import, and one that does not
//! knows it must not guess it.

/// The prelude's source, compiled into the xtask.
pub const PRELUDE_RS: &str = include_str!("../../crates/microcore/src/prelude.rs");

/// Every name the prelude exports, in source order, without duplicates.
pub fn exported_names(source: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in code.split(';') {
        let statement = statement.trim();
        if let Some(tree) = statement.strip_prefix("pub use ") {
            use_tree(tree.trim(), &mut names);
        } else if let Some(name) = item_name(statement) {
            names.push(name);
        }
    }
    let mut seen = Vec::new();
    names.retain(|n| {
        let new = !seen.contains(n);
        seen.push(n.clone());
        new
    });
    names
}

/// `pub type X = …`, `pub fn x(…)`, `pub struct X`, `pub mod x`: the item's name.
fn item_name(statement: &str) -> Option<String> {
    let last_line = statement
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("pub "))?;
    let rest = last_line.trim_start().strip_prefix("pub ")?;
    let rest = [
        "type ", "fn ", "struct ", "enum ", "trait ", "mod ", "const ",
    ]
    .iter()
    .find_map(|kw| rest.strip_prefix(kw))?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// One `use` tree: `a::b::{c, d::{self, e}, f as g}`.
fn use_tree(tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let prefix = tree[..open].trim_end_matches("::");
        let inner = tree[open + 1..].trim_end().trim_end_matches('}');
        for part in split_top_level(inner) {
            let part = part.trim();
            if part == "self" {
                if let Some(module) = prefix.rsplit("::").next() {
                    out.push(module.to_owned());
                }
            } else if !part.is_empty() {
                use_tree(part, out);
            }
        }
        return;
    }
    let name = match tree.split_once(" as ") {
        Some((_, alias)) => alias.trim(),
        None => tree.rsplit("::").next().unwrap_or(tree),
    };
    if name != "*" && name != "_" && !name.is_empty() {
        out.push(name.to_owned());
    }
}

/// Splits on commas that are not inside braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0usize, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_use_yields_its_names() {
        let src = "//! Docs.\npub use std::sync::Arc;\npub use anyhow::{self, bail};\n\
                   pub use crate::{event, model};\npub use a::{B, c::{self, D}, E as F};\n\
                   pub use glob::*;\n/// What a subscriber returns.\npub type HandlerResult<T = ()> = anyhow::Result<T>;\n";
        assert_eq!(
            exported_names(src),
            [
                "Arc",
                "anyhow",
                "bail",
                "event",
                "model",
                "B",
                "c",
                "D",
                "F",
                "HandlerResult"
            ]
        );
    }

    #[test]
    fn the_real_prelude_exports_what_plugins_use() {
        let names = exported_names(PRELUDE_RS);
        for expected in [
            "Arc", "Duration", "plugin", "model", "Http", "Db", "Route", "Ctx",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
    }
}
