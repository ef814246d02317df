//! The example app's build script: the steps every MicroCore app shares
//! (`microcore_codegen::app_build::run`), with this app's tool list.

fn main() {
    microcore_codegen::app_build::run("crates/app/src/tools.rs");
}
