//! The bundled handwritten digits: loading, a seeded 80/20 split, batches, accuracy, progress.
#![allow(dead_code)] // each example uses a part

use flate2::read::GzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use std::io::Read;

/// Pixels per image (8 × 8).
pub const PIXELS: usize = 64;
/// Images held out for testing: 20 % of 1797, rounded to 360.
pub const TEST: usize = 360;

/// One image, pixels scaled to [0, 1], and its label.
#[derive(Clone)]
pub struct Digit {
    pub pixels: [f32; PIXELS],
    pub label: usize,
}

/// Reads `examples/data/digits.csv.gz`; a malformed row is an error naming the row and field.
pub fn load() -> Result<Vec<Digit>, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/digits.csv.gz");
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut text = String::new();
    GzDecoder::new(file)
        .read_to_string(&mut text)
        .map_err(|e| format!("{path}: not a gzip-compressed text file: {e}"))?;
    text.lines()
        .enumerate()
        .map(|(row, line)| {
            let fields: Vec<&str> = line.trim().split(',').collect();
            if fields.len() != PIXELS + 1 {
                return Err(format!(
                    "{path}: row {}: expected {} fields, found {}",
                    row + 1,
                    PIXELS + 1,
                    fields.len()
                ));
            }
            let number = |i: usize, max: f32| -> Result<f32, String> {
                let v: f32 = fields[i].trim().parse().map_err(|_| {
                    format!(
                        "{path}: row {}, field {}: {:?} is not a number",
                        row + 1,
                        i + 1,
                        fields[i]
                    )
                })?;
                if !(0.0..=max).contains(&v) {
                    return Err(format!(
                        "{path}: row {}, field {}: expected 0..={max}, found {v}",
                        row + 1,
                        i + 1
                    ));
                }
                Ok(v)
            };
            let mut pixels = [0.0; PIXELS];
            for (i, p) in pixels.iter_mut().enumerate() {
                *p = number(i, 16.0)? / 16.0;
            }
            Ok(Digit {
                pixels,
                label: number(PIXELS, 9.0)? as usize,
            })
        })
        .collect()
}

/// Shuffles with `seed` and splits into (train, test) with `TEST` test images.
pub fn split(mut all: Vec<Digit>, seed: u64) -> (Vec<Digit>, Vec<Digit>) {
    all.shuffle(&mut StdRng::seed_from_u64(seed));
    let test = all.split_off(all.len() - TEST);
    (all, test)
}

/// The pixels of `digits`, concatenated (row-major images), and their labels.
pub fn batch(digits: &[Digit]) -> (Vec<f32>, Vec<usize>) {
    let pixels = digits.iter().flat_map(|d| d.pixels).collect();
    (pixels, digits.iter().map(|d| d.label).collect())
}

/// The fraction of rows of `logits` (10 per row) whose largest entry is the label.
pub fn accuracy(logits: &[f32], labels: &[usize]) -> f64 {
    let right = logits
        .chunks_exact(10)
        .zip(labels)
        .filter(|(row, &label)| {
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
