//! Boots every plugin under `domains/` on embedded defaults:
//! SQLite in `./microcore.db`, the in-process event bus, HTTP on 127.0.0.1:5000.

fn main() -> std::process::ExitCode {
    microcore::main::<microcore_app::Tools>()
}
