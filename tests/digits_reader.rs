//! The digits reader of the examples: the bundled file, every malformed input refused with an
//! error naming the file, row and field, gzip members and bombs, and the seeded split.

#[path = "../examples/common/digits.rs"]
mod digits;

use digits::{Digit, PIXELS};
use flate2::{write::GzEncoder, Compression};
use std::io::{Read, Write};

const NAME: &str = "bad.csv.gz";

fn gz(text: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

/// A CSV line: 64 pixels of `pixel`, then `label`.
fn row(pixel: &str, label: &str) -> String {
    format!("{}{label}\n", format!("{pixel},").repeat(PIXELS))
}

fn parse(text: &[u8]) -> Result<Vec<Digit>, String> {
    digits::parse(&gz(text)[..], NAME)
}

/// The error for `text`, checked to name the file.
fn error(text: &[u8]) -> String {
    let e = parse(text).unwrap_err();
    assert!(e.starts_with(&format!("{NAME}: ")), "{e}");
    e
}

#[test]
fn bundled_file_has_1797_rows_and_every_label() {
    let all = digits::load().unwrap();
    assert_eq!(all.len(), 1797);
    let mut seen = [false; 10];
    for d in &all {
        seen[d.label] = true;
        assert!(d.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    assert_eq!(seen, [true; 10]);
}

#[test]
fn rows_load_with_pixels_scaled_to_one() {
    let text = format!("{}{}", row("16", "0"), row(" 4 ", "9").trim_end());
    let all = parse(format!("{}\r\n", text).as_bytes()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].pixels, all[0].label), ([1.0; PIXELS], 0));
    assert_eq!((all[1].pixels, all[1].label), ([0.25; PIXELS], 9));
    // No newline after the last row.
    assert_eq!(parse(row("0", "3").trim_end().as_bytes()).unwrap().len(), 1);
}

#[test]
fn load_from_reads_a_file_and_names_it_in_errors() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let good = dir.join("digits-reader-good.csv.gz");
    std::fs::write(&good, gz(row("1", "5").as_bytes())).unwrap();
    assert_eq!(digits::load_from(&good).unwrap()[0].label, 5);

    let bad = dir.join("digits-reader-bad.csv.gz");
    std::fs::write(&bad, gz(row("1", "3.5").as_bytes())).unwrap();
    let e = digits::load_from(&bad).unwrap_err();
    assert!(e.starts_with(&format!("{}: row 1", bad.display())), "{e}");

    let missing = dir.join("digits-reader-missing.csv.gz");
    let e = digits::load_from(&missing).unwrap_err();
    assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
}

#[test]
fn empty_file_is_an_error() {
    assert_eq!(error(b""), format!("{NAME}: no rows (the file is empty)"));
    let e = digits::parse(&b""[..], NAME).unwrap_err();
    assert!(e.starts_with(&format!("{NAME}: ")), "{e}");
}

#[test]
fn plain_text_is_not_gzip() {
    let e = digits::parse(row("0", "1").as_bytes(), NAME).unwrap_err();
    assert!(
        e.starts_with(&format!("{NAME}: row 1: not readable as gzip")),
        "{e}"
    );
}

#[test]
fn truncated_gzip_is_an_error() {
    let whole = gz(row("7", "1").repeat(50).as_bytes());
    let e = digits::parse(&whole[..whole.len() - 10], NAME).unwrap_err();
    assert!(e.contains("not readable as gzip"), "{e}");
}

#[test]
fn non_utf8_bytes_name_row_and_field() {
    let mut text = row("0", "1").into_bytes();
    text.extend(b"0,0,\xff,");
    text.extend(row("0", "1").split_off(6).as_bytes());
    assert_eq!(
        error(&text),
        format!("{NAME}: row 2, field 3: not UTF-8 text")
    );
}

#[test]
fn wrong_field_count_names_the_row() {
    let short = format!("{}{}", row("0", "1"), "0,".repeat(PIXELS - 1) + "1\n");
    assert_eq!(
        error(short.as_bytes()),
        format!("{NAME}: row 2: expected 65 fields (64 pixels and a label), found 64")
    );
    let long = row("0", "1,1");
    assert!(error(long.as_bytes()).ends_with("found 66"));
}

#[test]
fn blank_lines_are_errors() {
    let middle = format!("{}\n{}", row("0", "1"), row("0", "2"));
    assert_eq!(
        error(middle.as_bytes()),
        format!("{NAME}: row 2: blank line")
    );
    let trailing = format!("{}\n", row("0", "1"));
    assert_eq!(
        error(trailing.as_bytes()),
        format!("{NAME}: row 2: blank line")
    );
    let spaces = format!(" \t\r\n{}", row("0", "1"));
    assert_eq!(
        error(spaces.as_bytes()),
        format!("{NAME}: row 1: blank line")
    );
}

#[test]
fn labels_must_be_plain_integers_0_to_9() {
    for label in [
        "3.5",
        "3.0",
        "+3",
        "-1",
        "10",
        "",
        "x",
        "3e0",
        "99999999999999999999999",
    ] {
        let text = format!("{}{}", row("0", "1"), row("0", label));
        assert_eq!(
            error(text.as_bytes()),
            format!(
                "{NAME}: row 2, field 65 (label): expected an integer in 0..=9, found {label:?}"
            )
        );
    }
}

#[test]
fn pixels_must_be_numbers_in_0_to_16() {
    for pixel in ["NaN", "inf", "-inf", "-1", "16.5", "17", "abc", ""] {
        let text = format!("0,0,0,0,{pixel},{}", &row("0", "1")[10..]);
        assert_eq!(
            error(text.as_bytes()),
            format!("{NAME}: row 1, field 5: expected a pixel in 0..=16, found {pixel:?}")
        );
    }
    assert_eq!(
        parse(row("0.5", "1").as_bytes()).unwrap()[0].pixels[0],
        0.5 / 16.0
    );
}

#[test]
fn multi_member_file_loads_every_row() {
    let mut file = gz(format!("{}{}", row("0", "1"), row("0", "2")).as_bytes());
    file.extend(gz(row("0", "3").as_bytes()));
    file.extend(gz(b""));
    file.extend(gz(row("0", "4").as_bytes()));
    let labels: Vec<usize> = digits::parse(&file[..], NAME)
        .unwrap()
        .iter()
        .map(|d| d.label)
        .collect();
    assert_eq!(labels, [1, 2, 3, 4]);
}

#[test]
fn cap_counts_every_decompressed_byte() {
    let text = row("0", "1").repeat(3);
    let file = gz(text.as_bytes());
    let len = text.len() as u64;
    assert_eq!(
        digits::parse_with_cap(&file[..], NAME, len).unwrap().len(),
        3
    );
    assert_eq!(
        digits::parse_with_cap(&file[..], NAME, len - 1).unwrap_err(),
        format!(
            "{NAME}: decompresses to more than the cap of {} bytes",
            len - 1
        )
    );
}

/// Counts the bytes read through it.
struct Counting<'a> {
    inner: &'a [u8],
    read: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}

/// 200 MiB of `chunk` repeated, compressed.
fn bomb(chunk: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let mut written = 0;
    while written < 200 << 20 {
        encoder.write_all(chunk).unwrap();
        written += chunk.len();
    }
    encoder.finish().unwrap()
}

#[test]
fn gzip_bombs_are_refused_at_the_cap_without_reading_them_all() {
    // Valid rows, which would otherwise load as 1.6 million digits, and one endless line.
    let rows = row("0", "1").repeat((1 << 20) / 130).into_bytes();
    for chunk in [rows, vec![0; 1 << 20]] {
        let bomb = bomb(&chunk);
        assert!(bomb.len() < 1 << 20, "{} bytes compressed", bomb.len());
        let mut input = Counting {
            inner: &bomb,
            read: 0,
        };
        let e = digits::parse(&mut input, NAME).unwrap_err();
        assert_eq!(
            e,
            format!("{NAME}: decompresses to more than the cap of 16777216 bytes")
        );
        // Stopped near the cap (8 % of the stream), not after decompressing everything.
        assert!(
            input.read < bomb.len() / 4,
            "{} of {}",
            input.read,
            bomb.len()
        );
    }
}

/// `n` digits told apart by their first pixel.
fn numbered(n: usize) -> Vec<Digit> {
    (0..n)
        .map(|i| {
            let mut pixels = [0.0; PIXELS];
            pixels[0] = i as f32;
            Digit {
                pixels,
                label: i % 10,
            }
        })
        .collect()
}

#[test]
fn split_holds_out_a_fifth_rounded_and_one_on_each_side() {
    for (n, test) in [(2, 1), (3, 1), (4, 1), (8, 2), (10, 2), (1797, 359)] {
        let (train, held) = digits::split(numbered(n), 7).unwrap();
        assert_eq!((train.len(), held.len()), (n - test, test), "{n} digits");
        let mut ids: Vec<usize> = train
            .iter()
            .chain(&held)
            .map(|d| d.pixels[0] as usize)
            .collect();
        ids.sort();
        assert_eq!(ids, (0..n).collect::<Vec<_>>(), "{n} digits");
    }
}

#[test]
fn split_is_deterministic_for_a_seed() {
    let a = digits::split(numbered(1797), 3).unwrap();
    assert_eq!(a, digits::split(numbered(1797), 3).unwrap());
    assert_ne!(a, digits::split(numbered(1797), 4).unwrap());
}

#[test]
fn split_refuses_fewer_than_2_digits() {
    for n in [0, 1] {
        assert_eq!(
            digits::split(numbered(n), 0).unwrap_err(),
            format!("split: expected at least 2 images (one to train on, one to test), found {n}")
        );
    }
}
