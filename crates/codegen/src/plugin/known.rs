//! The tool names the application declares, when the build told us.
//!
//! A macro cannot see other items, so a misspelt tool is normally reported by
//! rustc's "no field" error, which suggests the closest name but does not list
//! the others. The app's build script reads its `toolset!` and passes the names
//! in `MICROCORE_TOOLS=<crate>:<name>,<name>,...`; for that crate `#[plugin]`
//! reports an unknown tool itself: the name, the closest tool and every tool.

/// The declared tool names, if the build script provided them for the crate
/// being compiled.
pub(crate) fn declared_tools() -> Option<Vec<String>> {
    let raw = std::env::var("MICROCORE_TOOLS").ok()?;
    let (krate, names) = raw.split_once(':')?;
    let compiling = std::env::var("CARGO_CRATE_NAME").ok()?;
    (krate == compiling).then(|| {
        names
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// The message for a field that names no tool.
pub(crate) fn unknown_tool_message(field: &str, tools: &[String]) -> String {
    let closest = tools
        .iter()
        .map(|t| (distance(field, t), t))
        .filter(|(d, t)| *d <= (t.len().max(field.len()) / 3).max(2))
        .min()
        .map(|(_, t)| format!(" Did you mean `{t}`?"))
        .unwrap_or_default();
    format!(
        "`{field}` is not a tool, so this plugin cannot receive it.{closest} Available tools: {}. \
         A plugin field is named after the tool it receives; to add a tool of your own, list it in \
         `toolset!` (docs/custom-tools.md), or mark plugin-owned state with `#[state]`.",
        tools.join(", ")
    )
}

/// Levenshtein distance: small inputs, so the simple table is fine.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Vec<String> {
        ["auth", "config", "db", "event_bus", "http"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn a_misspelt_tool_names_the_closest_and_lists_all() {
        let msg = unknown_tool_message("dbx", &tools());
        assert!(msg.starts_with("`dbx` is not a tool"), "{msg}");
        assert!(msg.contains("Did you mean `db`?"), "{msg}");
        assert!(
            msg.contains("Available tools: auth, config, db, event_bus, http."),
            "{msg}"
        );
        assert!(unknown_tool_message("eventbus", &tools()).contains("Did you mean `event_bus`?"));
    }

    #[test]
    fn a_name_far_from_every_tool_suggests_nothing() {
        assert!(!unknown_tool_message("payments", &tools()).contains("Did you mean"));
    }
}
