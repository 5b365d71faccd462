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

/// Every failure a rule of `src/rules.rs` reports at compile time has a compile-fail test: the
/// failure's trait (`…Mismatch`, `…TooLarge`, `…Zero`, …) is named in one of the snapshots.
/// This reads files only, so it runs on any compiler. A rule checked only at run time (on
/// `Dyn` sizes, never a bound) is listed with the reason, and that it is never a bound is
/// checked too.
#[test]
fn every_rule_has_a_compile_fail_test() {
    const RUN_TIME_ONLY: &[(&str, &str)] = &[(
        "PoolGradOutput",
        "a pool's backward pass takes a gradient of its output's type: only `Dyn` sizes can \
         differ, at run time",
    )];
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).expect("a readable file");
    let rules = read(format!("{root}/src/rules.rs").as_ref());
    // The rules, each with its failures: the bare identifiers of a `shape_rule!` (the rule,
    // its failure) or a `param_rule!` (the rule, the shape's failure, the element type's).
    let mut failures = Vec::new();
    let mut lines = rules.lines();
    let mut invocations = 0;
    while let Some(line) = lines.next() {
        if line != "shape_rule!(" && line != "param_rule!(" {
            continue;
        }
        invocations += if line == "shape_rule!(" { 1 } else { 2 };
        let idents: Vec<&str> = lines
            .by_ref()
            .take_while(|l| *l != ");")
            .map(str::trim)
            .filter_map(|l| l.strip_suffix(','))
            .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect();
        let (rule, fails) = idents.split_first().expect("a rule's name");
        failures.extend(fails.iter().map(|f| (*rule, *f)));
    }
    assert!(
        invocations > 40 && failures.len() == invocations,
        "every rule's failures read from src/rules.rs ({} for {invocations})",
        failures.len()
    );

    // Whether `text` names the trait `name` (`…::Name<` or `` `Name< ``), not one whose name
    // ends the same way (`PoolWindowHeightTooLarge` in `PaddedPoolWindowHeightTooLarge`).
    let names = |text: &str, name: &str| {
        let pattern = format!("{name}<");
        text.match_indices(&pattern).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let mut snapshots = String::new();
    for entry in std::fs::read_dir(format!("{root}/ui-tests")).expect("ui-tests/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "stderr") {
            snapshots += &read(&path);
        }
    }
    let missing: Vec<_> = failures
        .iter()
        .filter(|(rule, _)| !RUN_TIME_ONLY.iter().any(|(r, _)| r == rule))
        .filter(|(_, fails)| !names(&snapshots, fails))
        .collect();
    assert!(
        missing.is_empty(),
        "(rule, failure) without a compile-fail test: {missing:?}"
    );

    // A rule listed as checked at run time only is never a bound (`ShapeEq<_, Rule>`, …).
    let mut sources = vec![std::path::PathBuf::from(format!("{root}/src"))];
    while let Some(path) = sources.pop() {
        if path.is_dir() {
            let entries = std::fs::read_dir(&path).expect("a directory");
            sources.extend(entries.map(|e| e.expect("an entry").path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = read(&path);
            for (rule, why) in RUN_TIME_ONLY {
                assert!(
                    !text.contains(&format!(", {rule}>")),
                    "{rule} is a bound in {} but listed as checked at run time only ({why})",
                    path.display()
                );
            }
        }
    }
}
