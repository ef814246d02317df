//! `cargo xtask new app <dir>`: a standalone MicroCore application outside
//! this repository, with the same glue as the example app (`crates/app`), one
//! domain with one plugin and its test, a migration, its CI script and a
//! README whose first two lines run and test it.
//!
//! The app depends on MicroCore through a `path` to this checkout by default,
//! or `--git URL`, or `--version V` (the published crates).

use std::path::{Path, PathBuf};

use crate::new::{domain_migration, format_rust};

/// Where the new app takes MicroCore from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// This checkout (absolute path to its root).
    Path(PathBuf),
    /// A git repository holding MicroCore's workspace.
    Git(String),
    /// The published crates, at this version requirement.
    Version(String),
}

/// What `new app` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppSpec {
    /// The directory to create.
    pub dir: PathBuf,
    /// The package name (the directory's name).
    pub name: String,
    /// Where MicroCore comes from.
    pub source: Source,
}

const USAGE: &str = "usage: cargo xtask new app <dir> [--git URL | --version V]";

/// Parses `new app <dir> [--git URL | --version V]`; `checkout` is the default `path` source.
pub fn parse_app_args(args: &[String], checkout: &Path) -> Result<AppSpec, String> {
    let mut dir = None;
    let mut source = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .filter(|v| !v.starts_with("--"))
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        let next = match arg.as_str() {
            "--git" => Source::Git(value("--git")?),
            "--version" => Source::Version(value("--version")?),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}; {USAGE}"));
            }
            path => {
                if dir.replace(PathBuf::from(path)).is_some() {
                    return Err(format!("name one directory; {USAGE}"));
                }
                continue;
            }
        };
        if source.replace(next).is_some() {
            return Err(format!("choose one of --git and --version; {USAGE}"));
        }
    }
    let dir = dir.ok_or_else(|| format!("name the directory to create; {USAGE}"))?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "the app is named after its directory, and {name:?} is not a package name: \
             use lowercase letters, digits, `-` or `_`, starting with a letter (e.g. my-shop)"
        ));
    }
    let source = source.unwrap_or_else(|| Source::Path(checkout.to_path_buf()));
    Ok(AppSpec { dir, name, source })
}

impl AppSpec {
    fn dependency(&self, crate_dir: &str) -> String {
        match &self.source {
            Source::Path(root) => {
                format!("{{ path = {:?} }}", path_str(&root.join(crate_dir)))
            }
            Source::Git(url) => format!("{{ git = {url:?} }}"),
            Source::Version(v) => format!("{v:?}"),
        }
    }

    /// The crate's name as Rust code spells it (`my-shop` → `my_shop`).
    fn ident(&self) -> String {
        self.name.replace('-', "_")
    }

    /// The command that runs this checkout's xtask for the app, when there is one.
    fn xtask_alias(&self) -> Option<String> {
        match &self.source {
            Source::Path(root) => Some(format!(
                "run --quiet --manifest-path {} --",
                path_str(&root.join("xtask/Cargo.toml"))
            )),
            Source::Git(_) | Source::Version(_) => None,
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// Every file of the new app, as (path relative to its directory, text).
pub fn app_files(spec: &AppSpec) -> Vec<(PathBuf, String)> {
    let mut files = vec![
        ("Cargo.toml", cargo_toml(spec)),
        ("build.rs", BUILD_RS.to_owned()),
        ("src/lib.rs", LIB_RS.to_owned()),
        ("src/main.rs", MAIN_RS.replace("{ident}", &spec.ident())),
        ("src/tools.rs", TOOLS_RS.to_owned()),
        ("domains/ping/plugins/ping.rs", format_rust(PING_RS)),
        (
            "domains/ping/migrations/001_create_ping.sql",
            domain_migration("ping"),
        ),
        ("README.md", readme(spec)),
        ("AI_CONTEXT.md", ai_context(spec)),
        (".ci/run", ci_run(spec)),
        (".gitignore", "/target\n*.db\n*.db-*\n.env\n".to_owned()),
    ];
    if let Some(alias) = spec.xtask_alias() {
        files.push((
            ".cargo/config.toml",
            format!(
                "# `cargo xtask context | check | new plugin …` for this app, run by the\n\
                 # MicroCore checkout it depends on (it acts on the current directory).\n\
                 [alias]\nxtask = {alias:?}\n"
            ),
        ));
    }
    files
        .into_iter()
        .map(|(p, t)| (PathBuf::from(p), t))
        .collect()
}

/// Writes the app into `spec.dir`, which must not exist or be empty; returns the files written.
pub fn write_app(spec: &AppSpec) -> Result<Vec<PathBuf>, String> {
    let occupied = std::fs::read_dir(&spec.dir).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        return Err(format!(
            "{} already exists and is not empty; nothing was written. Choose a new directory",
            spec.dir.display()
        ));
    }
    let mut files = app_files(spec);
    if let Source::Path(root) = &spec.source {
        // The checkout's lock file pins the versions it was tested with, and
        // a build sharing its target dir reuses every compiled dependency.
        if let Ok(lock) = std::fs::read_to_string(root.join("Cargo.lock")) {
            files.push((PathBuf::from("Cargo.lock"), lock));
        }
    }
    let written = crate::new::write_new(&spec.dir, &files)?;
    set_executable(&spec.dir.join(".ci/run"));
    Ok(written)
}

#[cfg(unix)]
fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

#[cfg(not(unix))]
fn set_executable(_: &Path) {}

/// `cargo xtask new app …`: writes the app and says what to run next.
pub fn run(args: &[String]) -> Result<std::process::ExitCode, String> {
    let checkout = crate::context::root();
    let spec = parse_app_args(args, &checkout)?;
    let written = write_app(&spec)?;
    for path in &written {
        println!("created {}", spec.dir.join(path).display());
    }
    println!(
        "next: cd {} && cargo run   (then: cargo test)",
        spec.dir.display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

fn cargo_toml(spec: &AppSpec) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false
default-run = "{name}"

# A workspace of its own: the app never joins an enclosing one.
[workspace]

[dependencies]
microcore = {microcore}
tokio = {{ version = "1", features = ["full"] }}

[build-dependencies]
# build.rs turns domains/ into the module tree.
microcore-codegen = {codegen}

[[bin]]
name = "{name}"
path = "src/main.rs"
test = false

[profile.dev]
debug = "line-tables-only"

# Dependencies without debug info: faster builds, a smaller target directory.
[profile.dev.package."*"]
debug = false

# Password hashing and SQLite are slow unoptimised, even in tests.
[profile.dev.package.argon2]
opt-level = 3
[profile.dev.package.blake2]
opt-level = 3
[profile.dev.package.libsqlite3-sys]
opt-level = 2
"#,
        name = spec.name,
        microcore = spec.dependency("crates/microcore"),
        codegen = spec.dependency("crates/codegen"),
    )
}

const BUILD_RS: &str = r#"//! The app's build script: the steps every MicroCore app shares, with this
//! app's tool list.

fn main() {
    microcore_codegen::app_build::run("src/tools.rs");
}
"#;

const LIB_RS: &str = r#"//! The application: every plugin under `domains/`.
//!
//! This file and `tools.rs` are all the glue there is. The module tree of
//! `domains/` is generated by `build.rs`; plugins register themselves at link
//! time.

mod tools;

pub use tools::Tools;

include!(concat!(env!("OUT_DIR"), "/domains.rs"));
"#;

const MAIN_RS: &str = r#"//! Boots every plugin under `domains/` on embedded defaults (SQLite in
//! `./microcore.db`, the in-process event bus, HTTP on 127.0.0.1:5000),
//! reading `.env` from the working directory when there is one.

fn main() -> std::process::ExitCode {
    microcore::main::<{ident}::Tools>()
}
"#;

const TOOLS_RS: &str = r#"//! The application's tools: MicroCore's standard ones, plus any custom tool,
//! one line each (`payments: crate::payments::Payments,`).

microcore::toolset! {}
"#;

const PING_RS: &str = r#"//! `GET /ping`: the smallest feature, and a liveness probe.

use microcore::prelude::*;

/// Answers `GET /ping` with `pong`.
#[plugin]
pub struct Ping {
    http: Http,
}

/// The answer.
#[model]
pub struct Pong {
    /// Always `ok`.
    status: String,
    /// Always `pong`.
    message: String,
}

impl Plugin for Ping {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http.route(
            Route::get("/ping").tag("Health").summary("Liveness probe"),
            &self,
            Self::ping,
        )?;
        Ok(())
    }
}

impl Ping {
    async fn ping(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Pong> {
        Ok(Pong { status: "ok".into(), message: "pong".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn ping_answers_pong_in_the_envelope() {
        let app = testing::boot::<Ping>().await;
        let res = app.http().call(TestRequest::get("/ping")).await;
        assert_eq!(res.status, 200);
        assert_eq!(
            res.body,
            json!({"success": true, "data": {"status": "ok", "message": "pong"}})
        );
    }
}
"#;

fn xtask_note(spec: &AppSpec) -> String {
    match spec.xtask_alias() {
        Some(_) => "`cargo xtask` (an alias in `.cargo/config.toml` to the MicroCore checkout's xtask) \
             works here: `cargo xtask new plugin <domain>/<feature> --route \"POST /things\"`, \
             `cargo xtask context` (rewrites AI_CONTEXT.md), `cargo xtask check`. \
             AI_CONTEXT.md starts as a stub: run `cargo xtask context` once and commit it. \
             `cargo xtask env-example` writes `.env.example`, every setting with its default."
            .to_owned(),
        None => "The project tasks (`new plugin`, `context`, `check`) come from a MicroCore checkout: \
             in this directory run `cargo run --manifest-path <checkout>/xtask/Cargo.toml -- context`, \
             or add that as a `cargo xtask` alias in `.cargo/config.toml`."
            .to_owned(),
    }
}

fn readme(spec: &AppSpec) -> String {
    format!(
        "Run it: `cargo run`, then `curl http://127.0.0.1:5000/ping`\n\
         Test it: `cargo test`\n\
         \n\
         # {name}\n\
         \n\
         A MicroCore application: one file is one feature. Plugins live in\n\
         `domains/<domain>/plugins/<feature>.rs`, migrations in `domains/<domain>/migrations/`;\n\
         `src/` is glue only. Settings are environment variables, read from `.env` in the\n\
         working directory too (real variables win).\n\
         \n\
         {xtask}\n\
         \n\
         CI: `bash .ci/run` (format, lints, tests{ci}).\n",
        name = spec.name,
        xtask = xtask_note(spec),
        ci = if spec.xtask_alias().is_some() {
            ", AI_CONTEXT.md freshness"
        } else {
            ""
        },
    )
}

fn ai_context(spec: &AppSpec) -> String {
    format!(
        "# AI_CONTEXT.md\n\n\
         Not generated yet. This file describes {name}'s plugins, routes, events and tools for\n\
         AI assistants, from the app's manifest: run `cargo xtask context` to write it.\n",
        name = spec.name
    )
}

fn ci_run(spec: &AppSpec) -> String {
    let xtask = if spec.xtask_alias().is_some() {
        "cargo xtask context --check\ncargo xtask check\n"
    } else {
        "# AI_CONTEXT.md freshness needs MicroCore's xtask; see README.md.\n"
    };
    format!(
        "#!/usr/bin/env bash\n\
         # CI: formatting, lints, tests, and the freshness of AI_CONTEXT.md.\n\
         set -euo pipefail\n\
         cd \"$(dirname \"$0\")/..\"\n\
         export CI=\"${{CI:-true}}\"\n\
         cargo fmt --all -- --check\n\
         # Plugin files reach the crate through generated #[path] modules, which\n\
         # cargo fmt does not follow: check them directly.\n\
         find domains -name '*.rs' -print0 | xargs -0 rustfmt --edition 2024 --check\n\
         cargo clippy --all-targets -- -D warnings\n\
         cargo test\n\
         {xtask}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn arguments_choose_the_source_and_bad_ones_are_explained() {
        let here = Path::new("/src/microcore");
        let spec = parse_app_args(&args(&["/tmp/my-shop"]), here).unwrap();
        assert_eq!(spec.name, "my-shop");
        assert_eq!(spec.source, Source::Path(here.to_path_buf()));
        let spec = parse_app_args(&args(&["shop", "--version", "0.1"]), here).unwrap();
        assert_eq!(spec.source, Source::Version("0.1".into()));
        for (bad, says) in [
            (vec![], "name the directory"),
            (vec!["a", "b"], "name one directory"),
            (vec!["x", "--git"], "--git needs a value"),
            (vec!["x", "--git", "u", "--version", "1"], "choose one"),
            (vec!["My Shop"], "is not a package name"),
            (vec!["x", "--nope"], "unknown option --nope"),
        ] {
            let err = parse_app_args(&args(&bad), here).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_dependency_follows_the_source() {
        let mut spec =
            parse_app_args(&args(&["shop", "--git", "https://g/m"]), Path::new("/")).unwrap();
        assert!(cargo_toml(&spec).contains(r#"microcore = { git = "https://g/m" }"#));
        assert!(spec.xtask_alias().is_none());
        spec.source = Source::Version("0.1.0".into());
        assert!(cargo_toml(&spec).contains(r#"microcore-codegen = "0.1.0""#));
    }
}
