//! Compile-time guarantees, pinned: every promised diagnostic of `#[plugin]`,
//! `toolset!` and `#[event]`, and the module privacy that keeps plugins and
//! domains apart. Refresh the expected output with `TRYBUILD=overwrite`.

#[test]
fn compile_errors_say_what_is_wrong_and_how_to_fix_it() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
