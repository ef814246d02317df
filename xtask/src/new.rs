//! `cargo xtask new plugin|domain`: one file that compiles and whose test
//! passes at once, so an agent starts from working code, never from a blank.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `new plugin` was asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginSpec {
    /// Domain folder.
    pub domain: String,
    /// Feature (file stem), snake_case.
    pub feature: String,
    /// `("POST", "/things")`.
    pub route: Option<(String, String)>,
    /// Event the feature publishes.
    pub publish: Option<String>,
    /// Event the feature consumes.
    pub subscribe: Option<String>,
}

/// Parses `new plugin <domain>/<feature> [--route "POST /x"] [--publish a.b] [--subscribe a.b]`.
pub fn parse_plugin_args(args: &[String]) -> Result<PluginSpec, String> {
    let usage = "usage: cargo xtask new plugin <domain>/<feature> [--route \"POST /things\"] \
                 [--publish thing.created] [--subscribe order.placed]";
    let mut spec = PluginSpec::default();
    let mut target = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value; {usage}"))
        };
        match arg.as_str() {
            "--route" => {
                let raw = value("--route")?;
                let (method, path) = raw.trim().split_once(' ').ok_or_else(|| {
                    format!("--route `{raw}`: write the method and the path, e.g. --route \"POST /things\"")
                })?;
                let method = method.to_ascii_uppercase();
                if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                    return Err(format!(
                        "--route `{raw}`: the method must be GET, POST, PUT, PATCH or DELETE"
                    ));
                }
                let path = path.trim().to_owned();
                if !path.starts_with('/') {
                    return Err(format!("--route `{raw}`: the path must start with `/`"));
                }
                spec.route = Some((method, path));
            }
            "--publish" => spec.publish = Some(checked_event(&value("--publish")?)?),
            "--subscribe" => spec.subscribe = Some(checked_event(&value("--subscribe")?)?),
            other if other.starts_with("--") => {
                return Err(format!("unknown option `{other}`; {usage}"));
            }
            other if target.is_none() => target = Some(other.to_owned()),
            other => return Err(format!("unexpected `{other}`; {usage}")),
        }
    }
    let target = target.ok_or_else(|| usage.to_owned())?;
    let (domain, feature) = target.split_once('/').ok_or_else(|| {
        format!("`{target}`: name the domain and the feature, e.g. users/create_user; {usage}")
    })?;
    spec.domain = checked_ident("domain", domain)?;
    spec.feature = checked_ident("feature", feature)?;
    if spec.publish.is_some() && spec.route.is_none() && spec.subscribe.is_none() {
        return Err(
            "--publish needs --route or --subscribe: an event is published when something happens"
                .into(),
        );
    }
    if spec.publish.is_some() && spec.publish == spec.subscribe {
        return Err("a feature that publishes an event does not also consume it; split it into two features".into());
    }
    Ok(spec)
}

/// A snake_case Rust identifier, or why not.
pub fn checked_ident(what: &str, name: &str) -> Result<String, String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{what} `{name}` must be snake_case (lowercase letters, digits, `_`, starting with a letter), e.g. `create_user`"
        ))
    }
}

fn checked_event(name: &str) -> Result<String, String> {
    let segments: Vec<&str> = name.split('.').collect();
    if segments.len() >= 2
        && segments
            .iter()
            .all(|s| checked_ident("event segment", s).is_ok())
    {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "`{name}` is not an event name: events are facts named `noun.verb_past`, e.g. `user.created`"
        ))
    }
}

/// `create_user` → `CreateUser`; `order.payment_failed` → `OrderPaymentFailed`.
pub fn camel(name: &str) -> String {
    name.split(['_', '.'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// The plugin file's text.
pub fn plugin_file(spec: &PluginSpec) -> String {
    let ty = camel(&spec.feature);
    let mut f = String::new();
    let mut roles = Vec::new();
    if let Some((m, p)) = &spec.route {
        roles.push(format!("`{m} {p}`"));
    }
    if let Some(e) = &spec.publish {
        roles.push(format!("publishes `{e}`"));
    }
    if let Some(e) = &spec.subscribe {
        roles.push(format!("consumes `{e}`"));
    }
    if roles.is_empty() {
        roles.push(format!("the `{}` feature", spec.feature));
    }
    let _ = writeln!(
        f,
        "//! {}.\n\nuse microcore::prelude::*;\n",
        roles.join(", ")
    );
    let _ = writeln!(
        f,
        "/// TODO: what this feature does, in one line (AI_CONTEXT.md shows it).\n#[plugin]\npub struct {ty} {{"
    );
    if spec.route.is_some() {
        f.push_str("    http: Http,\n");
    }
    if spec.publish.is_some() || spec.subscribe.is_some() {
        f.push_str("    event_bus: EventBus,\n");
    }
    if spec.subscribe.is_some() {
        f.push_str("    state: State,\n");
    }
    if spec.route.is_none() && spec.subscribe.is_none() {
        f.push_str("    logger: Logger,\n");
    }
    f.push_str("}\n\n");

    // Request and response: path parameters, plus `name` for a body.
    let (fields, request_ty) = match &spec.route {
        Some((method, path)) => {
            let mut fields = path_params(path);
            if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
                fields.push("name".to_owned());
            }
            let req = if fields.is_empty() {
                "Empty".to_owned()
            } else {
                format!("{ty}Request")
            };
            if !fields.is_empty() {
                let _ = writeln!(
                    f,
                    "/// What the client sends to `{method} {path}`.\n#[model]\npub struct {ty}Request {{"
                );
                for field in &fields {
                    let _ = writeln!(
                        f,
                        "    #[validate(length(min = 1, max = 100))]\n    pub {field}: String,"
                    );
                }
                f.push_str("}\n\n");
            }
            let _ = writeln!(
                f,
                "/// What the client gets back, inside the envelope's `data`.\n#[model]\npub struct {ty}Response {{"
            );
            if fields.is_empty() {
                f.push_str("    pub status: String,\n");
            }
            for field in &fields {
                let _ = writeln!(f, "    pub {field}: String,");
            }
            f.push_str("}\n\n");
            (fields, req)
        }
        None => (Vec::new(), String::new()),
    };
    let event_fields: Vec<String> = if fields.is_empty() {
        vec!["id".into()]
    } else {
        fields.clone()
    };
    if let Some(e) = &spec.publish {
        let _ = writeln!(
            f,
            "/// The fact this feature publishes (a past-tense `noun.verb_past`).\n#[event(\"{e}\")]\npub struct {} {{",
            camel(e)
        );
        for field in &event_fields {
            let _ = writeln!(f, "    pub {field}: String,");
        }
        f.push_str("}\n\n");
    }
    if let Some(e) = &spec.subscribe {
        let _ = writeln!(
            f,
            "/// The fact this feature consumes: its own copy of the fields it reads\n\
             /// (`cargo xtask check` compares them with the publisher's).\n\
             #[event(\"{e}\")]\npub struct {} {{\n    pub id: i64,\n}}\n",
            camel(e)
        );
    }

    let _ = writeln!(
        f,
        "impl Plugin for {ty} {{\n    async fn on_boot(self: Arc<Self>) -> BootResult {{"
    );
    if let Some((method, path)) = &spec.route {
        let status = if method == "POST" { ".status(201)" } else { "" };
        let _ = writeln!(
            f,
            "        let route = Route::{}(\"{path}\").tag(\"{}\"){status};\n        self.http.route(route, &self, Self::handle)?;",
            method.to_ascii_lowercase(),
            spec.domain
        );
    }
    if let Some(e) = &spec.subscribe {
        let _ = writeln!(
            f,
            "        self.event_bus.subscribe(&self, Self::on_{}).await?;",
            e.replace('.', "_")
        );
    }
    if spec.route.is_none() && spec.subscribe.is_none() {
        let _ = writeln!(
            f,
            "        self.logger.info(\"{} is ready\");",
            spec.feature
        );
    }
    f.push_str("        Ok(())\n    }\n}\n");

    let publish_stmt = |from: &str| -> String {
        spec.publish.as_ref().map_or(String::new(), |e| {
            let init: Vec<String> = event_fields
                .iter()
                .map(|x| {
                    if from.is_empty() {
                        format!("{x}: event.id.clone()")
                    } else {
                        format!("{x}: {from}.{x}.clone()")
                    }
                })
                .collect();
            format!(
                "        self.event_bus.publish({} {{ {} }}).await?;\n",
                camel(e),
                init.join(", ")
            )
        })
    };
    if spec.route.is_some() || spec.subscribe.is_some() {
        let _ = writeln!(f, "\nimpl {ty} {{");
    }
    if spec.route.is_some() {
        let arg = if fields.is_empty() { "_" } else { "req" };
        let _ = writeln!(
            f,
            "    async fn handle(self: Arc<Self>, {arg}: {request_ty}, _: Ctx) -> HttpResult<{ty}Response> {{"
        );
        f.push_str(&publish_stmt("req"));
        if fields.is_empty() {
            let _ = writeln!(f, "        Ok({ty}Response {{ status: \"ok\".into() }})");
        } else {
            let _ = writeln!(
                f,
                "        Ok({ty}Response {{ {} }})",
                fields
                    .iter()
                    .map(|x| format!("{x}: req.{x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        f.push_str("    }\n");
    }
    if let Some(e) = &spec.subscribe {
        if spec.route.is_some() {
            f.push('\n');
        }
        let _ = writeln!(
            f,
            "    async fn on_{}(self: Arc<Self>, event: Envelope<{}>) -> HandlerResult {{\n        \
             // A redelivered event keeps its id: remember it so the work is done once.\n        \
             let seen = self.state.namespace(\"{}\");\n        \
             if seen.has(&event.id).await? {{\n            return Ok(());\n        }}\n        \
             // TODO: react to the fact.\n        \
             seen.set(&event.id, event.payload.id, None).await?;",
            e.replace('.', "_"),
            camel(e),
            spec.feature
        );
        if spec.route.is_none() {
            f.push_str(&publish_stmt(""));
        }
        f.push_str("        Ok(())\n    }\n");
    }
    if spec.route.is_some() || spec.subscribe.is_some() {
        f.push_str("}\n");
    }

    // Tests.
    let uses_request = spec.route.is_some();
    let _ = writeln!(
        f,
        "\n#[cfg(test)]\nmod tests {{\n    use super::*;\n    use microcore::testing{};",
        if uses_request {
            "::{self, TestRequest}"
        } else {
            ""
        }
    );
    if let Some((method, path)) = &spec.route {
        let concrete = path_params(path).iter().fold(path.clone(), |p, param| {
            p.replace(&format!("{{{param}}}"), "1")
        });
        let mut sent = serde_json::Map::new();
        for field in &fields {
            sent.insert(
                field.clone(),
                serde_json::Value::String(if field == "name" {
                    "x".into()
                } else {
                    "1".into()
                }),
            );
        }
        let body = if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
            let mut only_name = serde_json::Map::new();
            only_name.insert("name".into(), "x".into());
            format!(".json(json!({}))", json_text(&only_name))
        } else {
            String::new()
        };
        let status = if method == "POST" { 201 } else { 200 };
        let expected = if fields.is_empty() {
            "json!({\"status\": \"ok\"})".to_owned()
        } else {
            format!("json!({})", json_text(&sent))
        };
        let test_name = format!(
            "{}_{}_answers_{status}",
            method.to_ascii_lowercase(),
            slug(path)
        );
        let _ = writeln!(
            f,
            "\n    #[tokio::test]\n    async fn {test_name}() {{\n        \
             let app = testing::boot::<{ty}>().await;\n        \
             let res = app.http().call(TestRequest::{}(\"{concrete}\"){body}).await;\n        \
             assert_eq!(res.status, {status}, \"{{}}\", res.text);\n        \
             assert_eq!(res.body[\"data\"], {expected});",
            method.to_ascii_lowercase()
        );
        if let Some(e) = &spec.publish {
            let payload: serde_json::Map<_, _> = event_fields
                .iter()
                .map(|x| (x.clone(), sent.get(x).cloned().unwrap_or_default()))
                .collect();
            let _ = writeln!(
                f,
                "        assert_eq!(app.published(\"{e}\"), vec![json!({})]);",
                json_text(&payload)
            );
        }
        f.push_str("    }\n");
    }
    if let Some(e) = &spec.subscribe {
        let _ = writeln!(
            f,
            "\n    #[tokio::test]\n    async fn {}_is_handled() {{\n        \
             let app = testing::boot::<{ty}>().await;\n        \
             let id = app.bus().publish({} {{ id: 7 }}).await.unwrap();\n        \
             let seen = app.state().namespace(\"{}\");\n        \
             for _ in 0..100 {{\n            \
             if seen.has(&id).await.unwrap() {{",
            e.replace('.', "_"),
            camel(e),
            spec.feature
        );
        if let (Some(p), None) = (&spec.publish, &spec.route) {
            let _ = writeln!(
                f,
                "                assert_eq!(app.wait_for(\"{p}\", Duration::from_secs(2)).await, vec![json!({{\"id\": id}})]);"
            );
        }
        let _ = writeln!(
            f,
            "                return;\n            }}\n            \
             tokio::time::sleep(Duration::from_millis(20)).await;\n        }}\n        \
             panic!(\"{e} was not handled within 2 s\");\n    }}"
        );
    }
    if spec.route.is_none() && spec.subscribe.is_none() {
        let _ = writeln!(
            f,
            "\n    #[tokio::test]\n    async fn boots() {{\n        \
             let app = testing::boot::<{ty}>().await;\n        \
             assert!(app.status().plugins.iter().all(|p| p.error.is_none()), \"{{:?}}\", app.status());\n    }}"
        );
    }
    f.push_str("}\n");
    f
}

/// `{"a": "x", "b": "1"}`, spaced as rustfmt leaves a `json!` literal.
fn json_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn slug(path: &str) -> String {
    let s: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let parts: Vec<&str> = s.split('_').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "root".into()
    } else {
        parts.join("_")
    }
}

/// The first migration of a new domain.
pub fn domain_migration(domain: &str) -> String {
    format!(
        "-- The `{domain}` domain's first table. Portable DDL runs on SQLite and PostgreSQL;\n\
         -- put engine-specific DDL in `001_create_{domain}.postgres.sql` / `.sqlite.sql`.\n\
         CREATE TABLE {domain} (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n    \
         created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP\n);\n"
    )
}

/// Writes `files` (path, text) under `root`, refusing to overwrite any.
pub fn write_new(root: &Path, files: &[(PathBuf, String)]) -> Result<Vec<PathBuf>, String> {
    for (path, _) in files {
        if root.join(path).exists() {
            return Err(format!(
                "{} already exists; nothing was written. Choose another name, or edit that file",
                path.display()
            ));
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        let full = root.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&full, text).map_err(|e| format!("cannot write {}: {e}", full.display()))?;
        written.push(path.clone());
    }
    Ok(written)
}

/// `new plugin …`: the file to write, formatted.
pub fn plugin_files(spec: &PluginSpec) -> Vec<(PathBuf, String)> {
    let path = PathBuf::from("domains")
        .join(&spec.domain)
        .join("plugins")
        .join(format!("{}.rs", spec.feature));
    vec![(path, format_rust(&plugin_file(spec)))]
}

/// `text` as rustfmt (edition 2024) writes it; unchanged when rustfmt is not installed.
pub fn format_rust(text: &str) -> String {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return text.to_owned();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => {
            String::from_utf8(out.stdout).unwrap_or_else(|_| text.to_owned())
        }
        _ => text.to_owned(),
    }
}

/// `new domain <name>`: the files to write.
pub fn domain_files(domain: &str) -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from("domains").join(domain);
    vec![(
        dir.join("migrations")
            .join(format!("001_create_{domain}.sql")),
        domain_migration(domain),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn arguments_are_parsed_and_bad_ones_explained() {
        let spec = parse_plugin_args(&args(&[
            "things/create_thing",
            "--route",
            "post /things",
            "--subscribe",
            "order.placed",
        ]))
        .unwrap();
        assert_eq!(spec.route, Some(("POST".into(), "/things".into())));
        assert_eq!(spec.subscribe.as_deref(), Some("order.placed"));
        for (bad, says) in [
            (vec!["things"], "name the domain and the feature"),
            (vec!["Things/x"], "snake_case"),
            (
                vec!["t/x", "--route", "/things"],
                "write the method and the path",
            ),
            (
                vec!["t/x", "--subscribe", "OrderPlaced"],
                "not an event name",
            ),
            (
                vec!["t/x", "--publish", "a.b"],
                "--publish needs --route or --subscribe",
            ),
            (vec!["t/x", "--nope"], "unknown option"),
        ] {
            let err = parse_plugin_args(&args(&bad)).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn names_become_rust_types() {
        assert_eq!(camel("create_user"), "CreateUser");
        assert_eq!(camel("order.payment_failed"), "OrderPaymentFailed");
        assert_eq!(slug("/users/{id}/posts"), "users_id_posts");
    }

    #[test]
    fn the_generated_file_has_only_what_was_asked_for() {
        let spec =
            parse_plugin_args(&args(&["users/get_thing", "--route", "GET /things/{id}"])).unwrap();
        let text = plugin_file(&spec);
        assert!(text.contains("Route::get(\"/things/{id}\")"), "{text}");
        assert!(text.contains("pub id: String"), "{text}");
        assert!(text.contains("TestRequest::get(\"/things/1\")"), "{text}");
        assert!(
            !text.contains("event_bus") && !text.contains("state"),
            "{text}"
        );
        let bare = plugin_file(&parse_plugin_args(&args(&["users/warm_cache"])).unwrap());
        assert!(
            bare.contains("logger: Logger") && bare.contains("async fn boots()"),
            "{bare}"
        );
    }

    #[test]
    fn every_generated_variant_is_valid_rust() {
        for a in [
            vec!["t/a"],
            vec!["t/a", "--route", "GET /a"],
            vec!["t/a", "--route", "DELETE /a/{id}", "--publish", "a.deleted"],
            vec!["t/a", "--subscribe", "b.done", "--publish", "a.done"],
            vec![
                "t/a",
                "--route",
                "POST /a",
                "--publish",
                "a.made",
                "--subscribe",
                "b.done",
            ],
        ] {
            let text = plugin_file(&parse_plugin_args(&args(&a)).unwrap());
            if let Err(e) = syn_check(&text) {
                panic!("{a:?}: {e}\n{text}");
            }
        }
    }

    fn syn_check(text: &str) -> Result<(), String> {
        syn::parse_file(text).map(drop).map_err(|e| e.to_string())
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let root = std::env::temp_dir().join(format!("xtask-new-{}", std::process::id()));
        let files = domain_files("billing");
        assert_eq!(write_new(&root, &files).unwrap(), vec![files[0].0.clone()]);
        let err = write_new(&root, &files).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_guide_template_is_the_generator_output() {
        let spec = parse_plugin_args(&args(&crate::guide::TEMPLATE_ARGS)).unwrap();
        let generated = format_rust(&plugin_file(&spec));
        if std::env::var_os("XTASK_BLESS").is_some() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/template/create_thing.rs"
            );
            std::fs::write(path, &generated).unwrap();
        }
        assert_eq!(
            generated,
            crate::guide::TEMPLATE,
            "the guide's template differs from what `new plugin` writes; run with XTASK_BLESS=1 to regenerate it"
        );
    }
}
