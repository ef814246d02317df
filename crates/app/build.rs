//! Turns `domains/` into the app's module tree (dropping a plugin file in adds
//! it to the next build, deleting it removes it, with no list kept by hand),
//! and tells `#[plugin]` which tools `src/tools.rs` declares so a misspelt
//! tool is reported with every available name.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("domains");
    println!("cargo:rerun-if-changed={}", root.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("domains.rs");
    let source = match microcore_codegen::domains::scan(&root) {
        Ok(tree) => microcore_codegen::domains::render(&tree),
        Err(e) => format!(
            "::core::compile_error!({:?});\n",
            format!("cannot read {}: {e}", root.display())
        ),
    };
    if let Err(e) = microcore_codegen::domains::write_if_changed(&out, &source) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }

    let tools = manifest.join("crates/app/src/tools.rs");
    println!("cargo:rerun-if-changed={}", tools.display());
    let declared = std::fs::read_to_string(&tools)
        .map_err(|e| e.to_string())
        .and_then(|src| {
            microcore_codegen::toolset::declared_names(&src).map_err(|e| e.to_string())
        });
    match declared {
        Ok(names) => println!(
            "cargo:rustc-env=MICROCORE_TOOLS=microcore_app:{}",
            names.join(",")
        ),
        Err(e) => println!(
            "cargo:warning=cannot read the tool list in {}: {e}",
            tools.display()
        ),
    }
}
