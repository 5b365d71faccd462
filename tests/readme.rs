//! The README's example is `examples/quickstart.rs`, verbatim.

#[test]
fn readme_quickstart_is_the_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/quickstart.rs");
    assert!(
        readme.contains(example.trim_end()),
        "README.md's Quickstart differs from examples/quickstart.rs"
    );
}
