//! The README's example is `examples/quickstart.rs`, verbatim, and its training loop the one
//! `tests/readme_loop.rs` runs.

#[test]
fn readme_quickstart_is_the_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/quickstart.rs");
    assert!(
        readme.contains(example.trim_end()),
        "README.md's Quickstart differs from examples/quickstart.rs"
    );
}

#[test]
fn readme_training_loop_is_the_tested_one() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("```rust,ignore\nuse shaped::{typenum::*, data::Dataset")
        .expect("the README's training loop");
    let block = &readme[start..];
    let block = &block[block.find('\n').unwrap() + 1..];
    let block = &block[..block.find("```").expect("the block's end")];
    let tested = include_str!("readme_loop.rs");
    assert!(
        tested.contains(block),
        "README.md's training loop differs from the one tests/readme_loop.rs runs"
    );
}
