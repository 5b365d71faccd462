//! Build script: (1) detects whether the compiler is the one the ui-test snapshots were made
//! with, (2) writes the table of decimal display types used in shape errors.
use std::fmt::Write as _;
use std::process::Command;

/// The toolchain the `.stderr` snapshots under `ui-tests/` were recorded with.
const UI_TOOLCHAIN: &str = "1.95.";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    if version.starts_with(&format!("rustc {UI_TOOLCHAIN}")) {
        println!("cargo:rustc-cfg=shaped_ui_toolchain");
    }
    println!("cargo:rustc-env=SHAPED_RUSTC_VERSION={}", version.trim());

    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("decimal.rs");
    std::fs::write(out, decimal_table()).unwrap();
}

/// Unit types `_0`..`_9`, `_00`..`_99`, `_000`..`_999` (zero-padded groups share the names of
/// the unpadded ones where they coincide). A number is spelled by chaining digits onto a type
/// (`_7` + 8 -> `_78` + 4 -> `_784`): each lookup is keyed on a distinct nominal type, so trait
/// selection stays linear; groups of three digits nest as a type argument (`_1<_024>` is 1024).
/// They are documented (1,110 pages in `rules::decimal`), not `#[doc(hidden)]`: rustc prints a
/// hidden type by its whole path, and every shape error read `shaped::rules::decimal::_4`
/// where it reads `_4`.
fn decimal_table() -> String {
    let mut names: Vec<String> = Vec::new();
    for width in 1..=3 {
        for v in 0..10usize.pow(width) {
            let name = format!("_{v:0w$}", w = width as usize);
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let mut s = String::new();
    for n in &names {
        let digits = &n[1..];
        let _ = writeln!(
            s,
            "#[doc = \"The decimal number {digits} in a shape error.\"]\n#[allow(non_camel_case_types)]\npub struct {n}<Rest = ()>(PhantomData<Rest>);\nimpl<R> WithRest<R> for {n}<()> {{ type Out = {n}<R>; }}"
        );
        if digits.len() < 3 {
            for d in 0..10 {
                let _ = writeln!(
                    s,
                    "impl Append<U{d}> for {n}<()> {{ type Out = _{digits}{d}<()>; }}"
                );
            }
        }
    }
    for d in 0..10 {
        let _ = writeln!(s, "impl Digit for U{d} {{ type Out = _{d}<()>; }}");
    }
    s
}
