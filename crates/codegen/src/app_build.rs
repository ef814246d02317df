//! What every MicroCore app's `build.rs` does, in one place: the example app
//! and each app `cargo xtask new app` writes call [`run`] with the path of
//! their `tools.rs`, instead of carrying their own copy of these steps.

use std::path::PathBuf;

/// Turns `domains/` into the app's module tree (dropping a plugin file in
/// adds it to the next build, deleting it removes it, with no list kept by
/// hand) and tells `#[plugin]` which tools `tools_file` (relative to the
/// package) declares, so a misspelt tool is reported with every available
/// name. Problems become compile errors or cargo warnings, never a panic.
pub fn run(tools_file: &str) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("domains");
    println!("cargo:rerun-if-changed={}", root.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("domains.rs");
    let source = match crate::domains::scan(&root) {
        Ok(tree) => crate::domains::render(&tree),
        Err(e) => format!(
            "::core::compile_error!({:?});\n",
            format!("cannot read {}: {e}", root.display())
        ),
    };
    if let Err(e) = crate::domains::write_if_changed(&out, &source) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }

    let tools = manifest.join(tools_file);
    println!("cargo:rerun-if-changed={}", tools.display());
    let declared = std::fs::read_to_string(&tools)
        .map_err(|e| e.to_string())
        .and_then(|src| crate::toolset::declared_names(&src).map_err(|e| e.to_string()));
    // The crate `#[plugin]` expands in: the package name as a Rust identifier.
    let krate = std::env::var("CARGO_PKG_NAME")
        .unwrap_or_default()
        .replace('-', "_");
    match declared {
        Ok(names) => println!(
            "cargo:rustc-env=MICROCORE_TOOLS={krate}:{}",
            names.join(",")
        ),
        Err(e) => println!(
            "cargo:warning=cannot read the tool list in {}: {e}",
            tools.display()
        ),
    }
}
