//! Compile-fail tests: each file in `ui-tests/` is one shape mistake that must not compile,
//! with the error a user sees in its `.stderr`. Each has a twin in `tests/twins.rs` that
//! compiles with the shape corrected, so each fails for the shape and nothing else.
//!
//! The `.stderr` text depends on the compiler: the snapshots were recorded with rustc 1.95
//! (see `build.rs`), and on another compiler this test is skipped with a message.
//! Refresh them with `TRYBUILD=overwrite cargo test --test ui`.

#[cfg(shaped_ui_toolchain)]
#[test]
fn shape_mistakes_do_not_compile() {
    trybuild::TestCases::new().compile_fail("ui-tests/*.rs");
}

#[cfg(not(shaped_ui_toolchain))]
#[test]
fn shape_mistakes_do_not_compile() {
    eprintln!(
        "skipped: the ui-test snapshots were recorded with rustc 1.95, this is {}",
        env!("SHAPED_RUSTC_VERSION")
    );
}
