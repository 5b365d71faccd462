//! Convolution forward and forward+backward on the three convolution workloads of the PyTorch
//! comparison (`benches/vs_pytorch.py`). Forward+backward goes through
//! `Module::forward_train`/`backward_train`, as a model's training step does, with the step's
//! buffers (`Module::Work`) and gradients kept across calls as a training loop keeps them. The
//! binary uses the system allocator, as a user's program does.
//!
//! `cargo bench --bench conv` prints each workload's median over 200 calls (forward) and 200
//! steps (forward+backward); `cargo bench --bench conv -- --timings R` prints one JSON line of
//! the medians over R calls instead.

use shaped::{typenum::*, Context, Conv, ConvOut, Module, Params, Tensor, Width};
use std::hint::black_box;
use std::time::Instant;

/// Deterministic inputs in [-0.5, 0.5).
fn noise(seed: u64) -> impl FnMut(&[usize]) -> f32 {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move |_| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

type Out<N, K, H, W, HF, WF, S, P> = (N, K, ConvOut<H, HF, S, P>, ConvOut<W, WF, S, P, Width>);

/// One workload: returns its forward closure and its forward+backward closure, which times
/// `reps` training steps, each on its own.
macro_rules! workload {
    ($n:ty, $c:ty, $h:ty, $w:ty, $k:ty, $hf:ty, $wf:ty, $s:ty, $p:ty) => {{
        let conv = Conv::<$c, $k, $hf, $wf, $s, $p>::new(
            Tensor::from_fn(noise(1)),
            Tensor::from_fn(noise(2)),
        );
        let x = Tensor::<($n, $c, $h, $w)>::from_fn(noise(3));
        let dy = Tensor::<Out<$n, $k, $h, $w, $hf, $wf, $s, $p>>::from_fn(noise(4));
        let (mut c2, x2) = (conv.clone(), x.clone());
        let fwd = move || {
            black_box(conv.forward(black_box(&x)));
        };
        let mut work = Default::default();
        let mut grads = c2.zero_grads();
        let mut ctx = Context::new(0);
        let train = move |reps: usize| -> Vec<f64> {
            let mut times = Vec::with_capacity(reps);
            for _ in 0..reps {
                let start = Instant::now();
                black_box(c2.forward_train(black_box(&x2), &mut work, &mut ctx));
                let dx = c2.backward_train(&x2, black_box(&dy), &mut work, &mut grads, true);
                black_box(dx);
                times.push(start.elapsed().as_secs_f64());
            }
            times
        };
        (fwd, train)
    }};
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn median_seconds(mut f: impl FnMut(), reps: usize) -> f64 {
    for _ in 0..3 {
        f();
    }
    median(
        (0..reps)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

type Train = Box<dyn FnMut(usize) -> Vec<f64>>;

fn main() {
    let (small_f, small_t) = workload!(U8, U3, U32, U32, U16, U3, U3, U1, U1);
    let (s2_f, s2_t) = workload!(U32, U16, U32, U32, U32, U3, U3, U2, U1);
    let (lenet_f, lenet_t) = workload!(U64, U1, U28, U28, U6, U5, U5, U1, U0);
    let mut cases: Vec<(&str, Box<dyn FnMut()>, Train)> = vec![
        ("conv_small", Box::new(small_f), Box::new(small_t)),
        ("conv_stride2", Box::new(s2_f), Box::new(s2_t)),
        ("conv_lenet", Box::new(lenet_f), Box::new(lenet_t)),
    ];
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--timings") {
        let reps: usize = args.get(i + 1).and_then(|r| r.parse().ok()).unwrap_or(50);
        let fields: Vec<String> = cases
            .iter_mut()
            .map(|(name, f, t)| {
                t(3); // warm-up
                format!(
                    "\"{name}\": {{\"forward\": {:e}, \"forward_backward\": {:e}}}",
                    median_seconds(f, reps),
                    median(t(reps))
                )
            })
            .collect();
        println!("{{{}}}", fields.join(", "));
        return;
    }
    for (name, f, t) in cases.iter_mut() {
        t(3); // warm-up
        let forward = median_seconds(f, 200);
        let step = median(t(200));
        println!(
            "{name:<13} forward {:9.2} µs   forward+backward {:9.2} µs",
            forward * 1e6,
            step * 1e6
        );
    }
}
