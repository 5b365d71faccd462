//! Affine forward and forward+backward, next to the gemm crate's own throughput on the same
//! products in the same run: the two sides alternate call by call (so both see the same machine
//! load), and each workload prints both throughputs and the median time ratio shaped / gemm.
//!
//! `cargo bench --bench affine`
#![allow(unsafe_code)] // the reference calls the gemm crate directly

use shaped::{typenum::*, Affine, ConstDim, Tensor};
use std::hint::black_box;
use std::time::Instant;

/// `dst (m x n) = a · b` through the gemm crate, the strides given as (row, col).
fn raw_gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    accumulate: bool,
) {
    assert!(dst.len() >= m * n && a.0.len() >= m * k && b.0.len() >= k * n);
    // One thread: the crate builds the gemm crates without their rayon threading (it splits
    // large products over its own helper threads), so this is the kernel each block runs.
    let par = gemm_common::Parallelism::None;
    // SAFETY: the views are dense row-major or transposed matrices within their slices.
    unsafe {
        gemm_f32::gemm::f32::get_gemm_fn()(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.0.as_ptr(),
            a.2 as isize,
            a.1 as isize,
            b.0.as_ptr(),
            b.2 as isize,
            b.1 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

struct Workload<N: ConstDim, DI: ConstDim, DO: ConstDim> {
    layer: Affine<DI, DO>,
    x: Tensor<(N, DI)>,
    dy: Tensor<(N, DO)>,
    scratch: Vec<f32>,
}

impl<N: ConstDim, DI: ConstDim, DO: ConstDim> Workload<N, DI, DO> {
    fn new() -> Self {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |_: &[usize]| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        Self {
            layer: Affine::new(Tensor::from_fn(&mut rnd), Tensor::from_fn(&mut rnd)),
            x: Tensor::from_fn(&mut rnd),
            dy: Tensor::from_fn(&mut rnd),
            scratch: vec![0.0; (N::SIZE + DO::SIZE) * DI::SIZE + N::SIZE * DO::SIZE],
        }
    }
    fn flops(&self) -> u64 {
        2 * (N::SIZE * DI::SIZE * DO::SIZE) as u64
    }
    fn shaped_forward(&self) -> Tensor<(N, DO)> {
        self.layer.forward(black_box(&self.x))
    }
    fn shaped_train(&self) -> f32 {
        let y = self.layer.forward(black_box(&self.x));
        let (dx, g) = self.layer.backward(&self.x, black_box(&self.dy));
        y.as_slice()[0] + dx.as_slice()[0] + g.weight.as_slice()[0]
    }
    fn gemm_forward(&mut self) {
        let (n, di, d_o) = (N::SIZE, DI::SIZE, DO::SIZE);
        let y = &mut self.scratch[..n * d_o];
        raw_gemm(
            n,
            d_o,
            di,
            y,
            (self.x.as_slice(), di, 1),
            (self.layer.weight.as_slice(), 1, di),
            false,
        );
    }
    fn gemm_train(&mut self) {
        let (n, di, d_o) = (N::SIZE, DI::SIZE, DO::SIZE);
        self.gemm_forward();
        let (dx, dw) = self.scratch.split_at_mut(n * di);
        raw_gemm(
            n,
            di,
            d_o,
            dx,
            (self.dy.as_slice(), d_o, 1),
            (self.layer.weight.as_slice(), di, 1),
            false,
        );
        raw_gemm(
            d_o,
            di,
            n,
            &mut dw[..d_o * di],
            (self.dy.as_slice(), 1, d_o),
            (self.x.as_slice(), di, 1),
            false,
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Alternates the two sides call by call, so both see the same machine load.
fn ratio(mut shaped: impl FnMut(), mut reference: impl FnMut(), flops: u64) -> (f64, f64, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        shaped();
        reference();
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(3);
    while a.len() < 21 || (Instant::now() < deadline && a.len() < 2001) {
        let t = Instant::now();
        shaped();
        a.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        reference();
        b.push(t.elapsed().as_secs_f64());
    }
    let (ma, mb) = (median(a), median(b));
    (ma / mb, flops as f64 / ma / 1e9, flops as f64 / mb / 1e9)
}

fn report<N: ConstDim, DI: ConstDim, DO: ConstDim>(name: &str) {
    let w = std::cell::RefCell::new(Workload::<N, DI, DO>::new());
    let f = w.borrow().flops();
    let (r, gs, gg) = ratio(
        || {
            black_box(w.borrow().shaped_forward());
        },
        || w.borrow_mut().gemm_forward(),
        f,
    );
    println!("affine_{name} forward:          shaped {gs:6.1} GFLOP/s ({:.2} µs), gemm {gg:6.1} GFLOP/s, time ratio shaped/gemm {r:.3} (throughput {:.0} %)", f as f64 / gs / 1e3, 100.0 / r);
    let (r, gs, gg) = ratio(
        || {
            black_box(w.borrow().shaped_train());
        },
        || w.borrow_mut().gemm_train(),
        3 * f,
    );
    println!("affine_{name} forward+backward: shaped {gs:6.1} GFLOP/s ({:.2} µs), gemm {gg:6.1} GFLOP/s, time ratio shaped/gemm {r:.3} (throughput {:.0} %)", 3.0 * f as f64 / gs / 1e3, 100.0 / r);
}

fn main() {
    println!("median throughputs and time ratios, sides interleaved call by call:");
    report::<U1, U4, U3>("1x4to3");
    report::<U32, U64, U32>("32x64to32");
    report::<U64, U784, U256>("64x784to256");
    report::<U256, U1024, U1024>("256x1024to1024");
}
