//! The `migrate` command for deploy pipelines: apply the pending domain
//! migrations (`migrate`), show where each stands (`migrate --status`), or
//! list what would run without running it (`migrate --dry-run`).

use std::process::ExitCode;

use microcore_db::{Db, MigrationState, MigrationStatus};
use microcore_kernel::{Env, Probe, Registry, Tool, ToolSetup};

/// What `migrate` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Apply,
    Status,
    DryRun,
}

impl Mode {
    fn parse(flags: &[String]) -> Result<Self, String> {
        match flags {
            [] => Ok(Self::Apply),
            [flag] if flag == "--status" => Ok(Self::Status),
            [flag] if flag == "--dry-run" => Ok(Self::DryRun),
            _ => Err(format!(
                "migrate: unknown arguments `{}`; use `migrate`, `migrate --status` or `migrate --dry-run`",
                flags.join(" ")
            )),
        }
    }
}

/// Runs `migrate [--status | --dry-run]` against `DATABASE_URL`.
pub(crate) async fn migrate(env: Env, flags: &[String]) -> ExitCode {
    let mode = match Mode::parse(flags) {
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // A one-shot command exports no telemetry: there is no shutdown to
    // flush it at, and the log lines say what happened.
    microcore_logger::init(&env.with("OTEL_SDK_DISABLED", "true"));
    let registry = Registry::new();
    let setup = ToolSetup {
        env: env.with("DB_AUTO_MIGRATE", "false"),
        probe: Probe::new(Db::NAME, registry.clone()),
        registry,
    };
    let db = match Db::setup(setup).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("migrate: the db tool could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match mode {
        Mode::Apply => apply(&db).await,
        Mode::Status | Mode::DryRun => match db.migration_status().await {
            Ok(status) if mode == Mode::Status => print_status(&status),
            Ok(status) => print_dry_run(&status),
            Err(e) => {
                eprintln!("migrate: cannot read the migration history: {e}");
                ExitCode::FAILURE
            }
        },
    };
    let _ = db.shutdown().await;
    code
}

async fn apply(db: &Db) -> ExitCode {
    match db.migrate().await {
        Ok(applied) if applied.is_empty() => {
            println!("migrate: nothing to apply; the schema is up to date");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            for key in applied {
                println!("migrate: applied {key}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One line per migration, then a summary; fails when one was edited or is
/// missing, which a real run (and every booting replica) refuses.
fn print_status(status: &[MigrationStatus]) -> ExitCode {
    for m in status {
        let label = match m.state {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
            MigrationState::Edited => "EDITED ",
            MigrationState::Missing => "MISSING",
        };
        let when = m.applied_at.as_deref().unwrap_or("-");
        println!("{label}  {}  ({}, {when})", m.key, m.file);
    }
    let count = |state| status.iter().filter(|m| m.state == state).count();
    println!(
        "migrate: {} applied, {} pending, {} edited, {} missing",
        count(MigrationState::Applied),
        count(MigrationState::Pending),
        count(MigrationState::Edited),
        count(MigrationState::Missing)
    );
    refuse_broken_history(status)
}

/// The pending migrations in the order `migrate` would apply them; nothing runs.
fn print_dry_run(status: &[MigrationStatus]) -> ExitCode {
    let pending: Vec<&MigrationStatus> = status
        .iter()
        .filter(|m| m.state == MigrationState::Pending)
        .collect();
    if pending.is_empty() {
        println!("migrate --dry-run: nothing to apply; the schema is up to date");
    }
    for m in pending {
        println!("migrate --dry-run: would apply {} ({})", m.key, m.file);
    }
    refuse_broken_history(status)
}

/// Non-zero, with the fix, when a migration was edited after it ran or its file is gone.
fn refuse_broken_history(status: &[MigrationStatus]) -> ExitCode {
    let broken: Vec<&MigrationStatus> = status
        .iter()
        .filter(|m| matches!(m.state, MigrationState::Edited | MigrationState::Missing))
        .collect();
    if broken.is_empty() {
        return ExitCode::SUCCESS;
    }
    for m in broken {
        let fix = match m.state {
            MigrationState::Edited => {
                "its file changed since it ran: restore the file and put the change in a new migration"
            }
            _ => "the history records it but no such file is registered: restore the file",
        };
        eprintln!("migrate: {} ({}): {fix}", m.key, m.file);
    }
    ExitCode::FAILURE
}
