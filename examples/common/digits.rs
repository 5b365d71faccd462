//! The bundled handwritten digits: loading, a seeded 80/20 split, batches, accuracy, progress.
//!
//! The data is a gzip-compressed CSV: one image a line, 64 pixel values (numbers in 0..=16)
//! then the label (a plain integer in 0..=9, so `3.0` and `+3` are refused). The newline after
//! the last row is optional and `\r\n` endings are accepted; a blank line anywhere is an error,
//! since it most likely marks a lost row. Every malformed input is an `Err` naming the file,
//! the row (its line number) and, where there is one, the field.
#![allow(dead_code)] // each example uses a part

use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use shaped::rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use shaped::{data::Dataset, Dyn, Shape, Tensor};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Pixels per image (8 × 8).
pub const PIXELS: usize = 64;
/// The most decompressed bytes `parse` reads: 16 MiB, 60 times the bundled file (264 712 bytes),
/// so a small gzip bomb is refused before it fills memory.
pub const MAX_DECOMPRESSED: u64 = 16 << 20;

/// One image, pixels scaled to [0, 1], and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Digit {
    pub pixels: [f32; PIXELS],
    pub label: usize,
}

/// Reads the bundled `examples/data/digits.csv.gz`.
pub fn load() -> Result<Vec<Digit>, String> {
    load_from(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/digits.csv.gz"
    )))
}

/// Reads the gzip-compressed CSV at `path`; errors start with the path.
pub fn load_from(path: &Path) -> Result<Vec<Digit>, String> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    parse(file, &name)
}

/// Reads gzip-compressed CSV (every gzip member, at most `MAX_DECOMPRESSED` bytes once
/// decompressed) from `gzip`; errors start with `name`.
pub fn parse(gzip: impl Read, name: &str) -> Result<Vec<Digit>, String> {
    parse_with_cap(gzip, name, MAX_DECOMPRESSED)
}

/// `parse` with the decompressed size capped at `cap` bytes instead of `MAX_DECOMPRESSED`.
pub fn parse_with_cap(gzip: impl Read, name: &str, cap: u64) -> Result<Vec<Digit>, String> {
    // One byte past the cap tells a file of exactly `cap` bytes from a larger one.
    let mut text = BufReader::new(MultiGzDecoder::new(gzip).take(cap + 1));
    let mut digits = Vec::new();
    let mut line = Vec::new();
    let mut read = 0;
    for row in 1.. {
        line.clear();
        let n = text.read_until(b'\n', &mut line).map_err(|e| {
            format!("{name}: row {row}: not readable as gzip (not gzip, truncated or corrupt): {e}")
        })?;
        read += n as u64;
        if read > cap {
            return Err(format!(
                "{name}: decompresses to more than the cap of {cap} bytes"
            ));
        }
        if n == 0 {
            break;
        }
        digits.push(parse_row(&line, name, row)?);
    }
    if digits.is_empty() {
        return Err(format!("{name}: no rows (the file is empty)"));
    }
    Ok(digits)
}

/// One line of the CSV, its line ending included, as a `Digit`.
fn parse_row(line: &[u8], name: &str, row: usize) -> Result<Digit, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return Err(format!("{name}: row {row}: blank line"));
    }
    let fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
    if fields.len() != PIXELS + 1 {
        return Err(format!(
            "{name}: row {row}: expected {} fields (64 pixels and a label), found {}",
            PIXELS + 1,
            fields.len()
        ));
    }
    let text = |field: usize| -> Result<&str, String> {
        std::str::from_utf8(fields[field - 1])
            .map(str::trim)
            .map_err(|_| format!("{name}: row {row}, field {field}: not UTF-8 text"))
    };
    let mut pixels = [0.0; PIXELS];
    for (i, pixel) in pixels.iter_mut().enumerate() {
        let s = text(i + 1)?;
        // The range check also refuses NaN and the infinities, which `parse` accepts.
        let v = s.parse::<f32>().ok().filter(|v| (0.0..=16.0).contains(v));
        *pixel = v.ok_or_else(|| {
            format!(
                "{name}: row {row}, field {}: expected a pixel in 0..=16, found {s:?}",
                i + 1
            )
        })? / 16.0;
    }
    let s = text(PIXELS + 1)?;
    // Digits only: `parse` alone would also take `+3`.
    let label = s
        .parse::<usize>()
        .ok()
        .filter(|&label| label <= 9 && s.bytes().all(|b| b.is_ascii_digit()));
    let label = label.ok_or_else(|| {
        format!("{name}: row {row}, field 65 (label): expected an integer in 0..=9, found {s:?}")
    })?;
    Ok(Digit { pixels, label })
}

/// Shuffles with `seed` and splits into (train, test), holding out 20 % (rounded, and at least
/// one image on each side). Needs at least 2 images.
pub fn split(mut all: Vec<Digit>, seed: u64) -> Result<(Vec<Digit>, Vec<Digit>), String> {
    let n = all.len();
    if n < 2 {
        return Err(format!(
            "split: expected at least 2 images (one to train on, one to test), found {n}"
        ));
    }
    // n / 5 never ends in .5, so (n + 2) / 5 is n / 5 rounded.
    let test = ((n + 2) / 5).clamp(1, n - 1);
    all.shuffle(&mut StdRng::seed_from_u64(seed));
    let test = all.split_off(n - test);
    Ok((all, test))
}

/// The rows (0-based line numbers of the data file) that `split(all, seed)` puts in its
/// (train, test) halves, in the same order, for `n` images: the shuffle swaps positions by the
/// generator alone, so shuffling the row numbers with the same seed moves them as it moves the
/// images. Lets another program (the PyTorch twin in `benches/resnet_vs_pytorch.py`) hold out
/// the same images.
pub fn split_rows(n: usize, seed: u64) -> Result<(Vec<usize>, Vec<usize>), String> {
    if n < 2 {
        return Err(format!(
            "split: expected at least 2 images (one to train on, one to test), found {n}"
        ));
    }
    let test = ((n + 2) / 5).clamp(1, n - 1);
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut StdRng::seed_from_u64(seed));
    let test = rows.split_off(n - test);
    Ok((rows, test))
}

/// The pixels of `digits`, concatenated (row-major images), and their labels.
pub fn batch(digits: &[Digit]) -> (Vec<f32>, Vec<usize>) {
    let pixels = digits.iter().flat_map(|d| d.pixels).collect();
    (pixels, digits.iter().map(|d| d.label).collect())
}

/// `digits` as a [`Dataset`] of images of shape `S`, one row each (`(Dyn, U64)` for vectors,
/// `(Dyn, U1, U8, U8)` for images): the number of rows is the number of digits, whatever it is.
pub fn dataset<S: Shape<Batch = Dyn>>(
    digits: &[Digit],
) -> Result<Dataset<S>, Box<dyn std::error::Error>> {
    let (pixels, labels) = batch(digits);
    Ok(Dataset::new(Tensor::from_vec(pixels)?, labels)?)
}

/// The fraction of rows of `logits` (10 per row) whose largest entry is the label.
pub fn accuracy(logits: &[f32], labels: &[usize]) -> f64 {
    let right = logits
        .chunks_exact(10)
        .zip(labels)
        .filter(|&(row, &label)| {
            let best = (0..10).fold(0, |b, i| if row[i] > row[b] { i } else { b });
            best == label
        })
        .count();
    right as f64 / labels.len() as f64
}

/// A progress bar over `steps` training steps (hidden when stderr is not a terminal).
pub fn progress(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}
