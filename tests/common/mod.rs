//! Helpers shared by the integration tests: golden files, finite differences, error norms.
#![allow(dead_code)]

use std::collections::HashMap;

/// One record of a golden file: dims and row-major values.
pub struct Record {
    pub dims: Vec<usize>,
    pub values: Vec<f64>,
}

/// Reads `tests/golden/NAME` (format in `tests/golden/make_golden.py`).
pub fn golden(name: &str) -> HashMap<String, Record> {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut parts = line.split_whitespace();
        let key = parts.next().unwrap().to_string();
        let dims_field = parts.next().unwrap();
        let dims = if dims_field.is_empty() {
            vec![]
        } else {
            dims_field.split(',').map(|d| d.parse().unwrap()).collect()
        };
        let values: Vec<f64> = parts.map(|v| v.parse().unwrap()).collect();
        assert_eq!(values.len(), dims.iter().product::<usize>(), "{key}");
        out.insert(key, Record { dims, values });
    }
    out
}

/// The largest element-wise difference, relative to the largest magnitude of `want`.
pub fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    got.iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()))
        / scale
}

/// Central finite differences of `loss` at `params`, step `h`.
pub fn finite_diff(params: &[f64], h: f64, mut loss: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut p = params.to_vec();
    (0..p.len())
        .map(|i| {
            let orig = p[i];
            p[i] = orig + h;
            let up = loss(&p);
            p[i] = orig - h;
            let down = loss(&p);
            p[i] = orig;
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// `Σ a ∘ b`.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One training pass of `model` on `x` with fresh buffers: the forward output, then with the
/// output gradient `dy(output)`, the input gradient and the parameter gradients (added into
/// zeros).
pub fn train_pass<E, In, M>(
    model: &mut M,
    x: &In,
    dy: impl FnOnce(&M::Out) -> M::Out,
) -> (M::Out, In, M::Grads)
where
    E: shaped::Element,
    M: shaped::Module<E, In>,
    M::Out: Clone,
    In: Clone,
{
    let mut work = M::Work::default();
    let mut ctx = shaped::Context::new(0);
    let y = model.forward_train(x, &mut work, &mut ctx).clone();
    let d = dy(&y);
    let mut grads = model.zero_grads();
    let dx = model
        .backward_train(x, &d, &mut work, &mut grads, true)
        .expect("asked for")
        .clone();
    (y, dx, grads)
}
