//! Compile-fail tests: each file in `ui-tests/` is one shape mistake that must not compile,
//! with the error a user sees in its `.stderr`. Each has a twin in `tests/twins.rs` that
//! compiles with the shape corrected, so each fails for the shape and nothing else.
//!
//! The `.stderr` text depends on the compiler: the snapshots were recorded with rustc 1.95
//! (see `build.rs`), and on another compiler `shape_mistakes_do_not_compile` is skipped with a
//! message (`every_error_has_a_compile_fail_test` reads files only and runs on any compiler).
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

use std::path::{Path, PathBuf};

/// Every error the crate defines for the compiler has a compile-fail test:
/// - each failure of a shape or parameter rule of `src/rules.rs` (`shape_rule!`, `param_rule!`:
///   the failure's trait, `…Mismatch`, `…TooLarge`, `…Zero`, …) is named in a snapshot;
/// - each other `#[diagnostic::on_unimplemented]` message in `src/` is the first line of a
///   snapshot's error (its `{…}` placeholders standing for anything).
///
/// Only snapshots beside their test (`X.stderr` with `X.rs`) count. The few errors that cannot
/// be the first a user sees are listed with the reason, and for the one rule checked at run time
/// only, that it is used only by the run-time check is checked too.
#[test]
fn every_error_has_a_compile_fail_test() {
    // (rule, why): a rule whose failures can only be found at run time, on `Dyn` sizes.
    const RUN_TIME_ONLY: &[(&str, &str)] = &[(
        "PoolGradOutput",
        "a pool's backward pass takes a gradient of its output's type: only `Dyn` sizes can \
         differ, at run time",
    )];
    // (message, why): a message the compiler never puts first.
    const NEVER_FIRST: &[(&str, &str)] = &[(
        "the shape `{Self}` has a `Dyn` dim, whose size is known only at run time",
        "a tuple is a `ConstShape` when each dim is a `ConstDim`, so the compiler reports the \
         dim (`Dyn` is not a compile-time dimension: const_shape_of_a_dyn_dim)",
    )];
    let root = env!("CARGO_MANIFEST_DIR");
    let sources = rust_files(&Path::new(root).join("src"));
    let (_, rules) = sources
        .iter()
        .find(|(path, _)| path.ends_with("src/rules.rs"))
        .expect("src/rules.rs");

    // The snapshots beside their tests, and the first line of each error in them.
    let mut snapshots = String::new();
    for entry in std::fs::read_dir(Path::new(root).join("ui-tests")).expect("ui-tests/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "stderr") && path.with_extension("rs").exists() {
            snapshots += &read(&path);
        }
    }
    let headlines: Vec<&str> = snapshots
        .lines()
        .filter_map(|l| l.strip_prefix("error[").and_then(|l| l.split_once("]: ")))
        .map(|(_, message)| message)
        .collect();

    // The rules, each with its failures: the bare identifiers of a `shape_rule!` (the rule,
    // its failure) or a `param_rule!` (the rule, the shape's failure, the element type's).
    let mut failures = Vec::new();
    let mut lines = rules.lines();
    while let Some(line) = lines.next() {
        if line != "shape_rule!(" && line != "param_rule!(" {
            continue;
        }
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
    let expected =
        rules.matches("shape_rule!(").count() + 2 * rules.matches("param_rule!(").count();
    assert!(
        expected > 40 && failures.len() == expected,
        "every rule's failures read from src/rules.rs ({} of {expected})",
        failures.len()
    );
    let missing: Vec<_> = failures
        .iter()
        .filter(|(rule, _)| !RUN_TIME_ONLY.iter().any(|(r, _)| r == rule))
        .filter(|(_, fails)| !names(&snapshots, fails))
        .collect();
    assert!(
        missing.is_empty(),
        "(rule, failure) without a compile-fail test: {missing:?}"
    );

    // Every other message written for the compiler.
    let mut messages = Vec::new();
    for (_, text) in &sources {
        for (at, _) in text.match_indices("#[diagnostic::on_unimplemented(") {
            let attribute = &text[at..];
            let attribute = &attribute[..attribute.find(")]").expect("the attribute's end")];
            if let Some(rest) = attribute.split_once("message = \"").map(|(_, r)| r) {
                messages.push(&rest[..rest.find('"').expect("the message's end")]);
            }
        }
    }
    assert!(
        messages.len() >= 10,
        "the messages read from src/ ({})",
        messages.len()
    );
    let missing: Vec<_> = messages
        .iter()
        .filter(|m| !NEVER_FIRST.iter().any(|(n, _)| n == *m))
        .filter(|m| !headlines.iter().any(|h| fits(m, h)))
        .collect();
    assert!(
        missing.is_empty(),
        "messages that are the first line of no snapshot: {missing:?}"
    );
    for (message, why) in NEVER_FIRST {
        assert!(
            messages.contains(message),
            "{message} is listed ({why}) but not in src/"
        );
    }

    // A rule listed as checked at run time only is used only by that check.
    for (rule, why) in RUN_TIME_ONLY {
        assert!(
            failures.iter().any(|(r, _)| r == rule),
            "{rule} is not a rule ({why})"
        );
        let mut checks = 0;
        for (path, text) in &sources {
            if path.ends_with("src/rules.rs") {
                continue;
            }
            for (at, _) in text.match_indices(rule) {
                let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
                let line = &text[line_start..];
                let line = &line[..line.find('\n').unwrap_or(line.len())];
                if text[..at].ends_with("check_dims::<") {
                    checks += 1;
                } else {
                    assert!(
                        line.trim_start().starts_with("use "),
                        "{rule} in {} is not a run-time check: {line} ({why})",
                        path.display()
                    );
                }
            }
        }
        assert!(checks > 0, "{rule} is checked nowhere at run time ({why})");
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("a readable file")
}

/// The `.rs` files under `dir`, with their text.
fn rust_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = read(&path);
                files.push((path, text));
            }
        }
    }
    files
}

/// Whether `text` names the trait `name` (`…::Name<` or `` `Name< ``), not one whose name
/// ends the same way (`PoolWindowHeightTooLarge` in `PaddedPoolWindowHeightTooLarge`).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(&format!("{name}<")).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Whether `line` is `template` with each `{…}` placeholder standing for any text.
fn fits(template: &str, line: &str) -> bool {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        pieces.push(&rest[..open]);
        rest = &rest[open + rest[open..].find('}').expect("a placeholder's end") + 1..];
    }
    pieces.push(rest);
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    let Some(mut line) = line.strip_prefix(first) else {
        return false;
    };
    if pieces.len() == 1 {
        return line.is_empty();
    }
    for piece in &pieces[1..pieces.len() - 1] {
        match line.find(piece) {
            Some(at) => line = &line[at + piece.len()..],
            None => return false,
        }
    }
    line.ends_with(last)
}
