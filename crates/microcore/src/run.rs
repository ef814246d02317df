//! The application entry point: `serve` (default), `migrate`, `manifest`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::console::Console;
use microcore_kernel::{BootOptions, Env, Kernel, KernelSettings, Tool, ToolSet};

const USAGE: &str = "\
usage: <app> [serve | migrate [--status | --dry-run] | manifest]
  serve     boot every tool and plugin and serve until SIGINT/SIGTERM (default)
  migrate   apply pending domain migrations and exit (for deploy pipelines;
            replicas then run with DB_AUTO_MIGRATE=false)
            --status: print applied / pending / edited / missing migrations;
                      exits non-zero when one is edited or missing
            --dry-run: list what `migrate` would apply, applying nothing
  manifest  dry-boot with in-memory tools and print the app's metadata as JSON
            (what `cargo xtask context` renders into AI_CONTEXT.md)";

/// Runs the application built from tool set `T` on a fresh tokio runtime.
pub fn main<T: ToolSet>() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(run::<T>(std::env::args().skip(1).collect()));
            // A step abandoned at shutdown may still block a thread: do not wait for it.
            rt.shutdown_timeout(Duration::from_millis(100));
            code
        }
        Err(e) => {
            eprintln!("MicroCore cannot start: the async runtime failed to start: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command (`serve`, `migrate`, `manifest`) with the process environment.
///
/// `serve` and `migrate` also read `.env` from the working directory when it
/// exists; a variable set in the real environment wins over the file.
pub async fn run<T: ToolSet>(args: Vec<String>) -> ExitCode {
    let command = args.first().map(String::as_str);
    let env = match command {
        None | Some("serve" | "migrate") => match env_with_dotenv(Path::new(".env")) {
            Ok(env) => env,
            Err(e) => {
                eprintln!("MicroCore cannot start: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => Env::from_process(),
    };
    match command {
        None | Some("serve") => serve::<T>(env).await,
        Some("migrate") => crate::migrate::migrate(env, &args[1..]).await,
        Some("manifest") => match crate::manifest::dry_boot_manifest::<T>().await {
            Ok(m) => {
                println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("manifest failed: {e}");
                ExitCode::FAILURE
            }
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command `{other}`\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The process environment plus the settings of the dotenv file at `path`
/// that the environment does not already set. Says on stdout which file was
/// read, so a setting's origin is never a guess; a missing file is no error.
fn env_with_dotenv(path: &Path) -> Result<Env, String> {
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let entries = match dotenvy::from_path_iter(path) {
        Ok(entries) => entries,
        Err(e) if e.not_found() => return Ok(Env::from_process()),
        Err(e) => return Err(format!("cannot read {}: {e}", shown.display())),
    };
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for entry in entries {
        let (key, value) = entry.map_err(|e| {
            format!(
                "{} is not a valid .env file: {e}; fix the line or remove the file",
                shown.display()
            )
        })?;
        vars.insert(key, value);
    }
    let from_file = vars.len();
    vars.extend(std::env::vars());
    println!(
        "env: read {} ({from_file} setting(s); variables set in the environment win)",
        shown.display()
    );
    Ok(Env::from_pairs(vars))
}

/// Longest the last export of spans and metrics may take at exit.
const TELEMETRY_FLUSH: Duration = Duration::from_secs(5);

/// Serves until a stop signal; telemetry (when an OTLP endpoint is set) is
/// flushed last, after the kernel's shutdown, so its spans are sent too.
async fn serve<T: ToolSet>(env: Env) -> ExitCode {
    let telemetry = microcore_logger::init(&env);
    let code = serve_app::<T>(env).await;
    for failure in telemetry.shutdown(TELEMETRY_FLUSH).await {
        eprintln!("OpenTelemetry: {failure} (OTEL_EXPORTER_OTLP_ENDPOINT)");
    }
    code
}

async fn serve_app<T: ToolSet>(env: Env) -> ExitCode {
    let settings = match KernelSettings::from_env(&env) {
        Ok(settings) => settings,
        Err(errors) => {
            eprintln!("MicroCore cannot serve.");
            for e in errors {
                eprintln!("  {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let grace = settings.shutdown_grace;
    let console = Console::new(&env);
    // Listening before boot: a signal during boot or shutdown is ours to handle.
    let mut signals = Signals::listen();
    let mut running = Kernel::<T>::boot(BootOptions {
        boot_complete: false,
        ..BootOptions::serve(env, &settings)
    })
    .await;
    let essential = [microcore_http::Http::NAME];
    let mut report = running.report().clone();
    report.enforce(&settings, &essential);
    if !report.cannot_serve() {
        // Only now does the http tool open its port: a refused boot never listens.
        running.complete_boot().await;
        report = running.report().clone();
        report.enforce(&settings, &essential);
    }
    console.boot_report(&report);
    if report.cannot_serve() {
        console.cannot_serve(&report);
        running.shutdown(grace).await;
        return ExitCode::FAILURE;
    }
    console.serving(&report);
    signals.next().await;
    console.say(&format!(
        "Shutting down: draining in-flight work (up to {grace:?}); a second Ctrl-C stops at once."
    ));
    tokio::select! {
        done = running.shutdown(grace) => {
            console.shutdown(&done);
            if done.clean() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        signal = signals.next() => {
            eprintln!("Second {} received: stopping at once without finishing shutdown.", signal.name());
            // Leaves without unwinding the runtime: its threads may be stuck.
            std::process::exit(signal.exit_code())
        }
    }
}

/// A stop signal.
#[derive(Clone, Copy, Debug)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The shell's convention for a process stopped by this signal: 128 + its number.
    fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// SIGINT and SIGTERM, listened for once for the whole run (a signal that
/// arrives while nobody awaits is kept, not lost).
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Self { unix }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        if let Some((int, term)) = self.unix.as_mut() {
            return tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
        }
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            // No way to hear Ctrl-C: serve until killed.
            Err(_) => std::future::pending().await,
        }
    }
}
