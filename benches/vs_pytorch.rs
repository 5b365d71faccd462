//! The workloads of the PyTorch comparison (`benches/vs_pytorch.py`), timed as a training loop
//! gets them: the model is built once, and its step buffers (`Module::Work`), its gradients and
//! its `Context` are kept across calls. Forward is `forward_train`; forward+backward is
//! `forward_train`, `grads.zero()`, then `backward_train` with the input gradient, as PyTorch
//! computes `x.grad` when `x` requires it. The binary uses the system allocator, as a user's
//! program does unless it chooses another.
//!
//! `cargo bench --bench vs_pytorch -- --timings R` prints one JSON line,
//! `{workload: {"forward": s, "forward_backward": s}}`, each a median over R samples, which the
//! comparison script reads. Without `--timings` (`cargo bench`) it runs a few samples of each
//! and prints the same line, as a check that every workload runs.
//!
//! A sample is the mean of enough consecutive calls to last about 20 µs (one call for all but
//! the smallest workloads), so that the clock's own cost does not count in a 100 ns step; the
//! script times PyTorch by the same rule.

use shaped::{rand::rngs::StdRng, rand::SeedableRng, softmax_cross_entropy_into};
use shaped::{typenum::*, Adam, Affine, Context, Conv, ConvOut, Flatten, Gradients, Init};
use shaped::{BatchNorm2d, GlobalAvgPool, MaxPool2d, Module, Projected, ReLU, Residual};
use shaped::{Tensor, Width};
use std::hint::black_box;
use std::rc::Rc;
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

/// The shortest a sample lasts: a sample of a faster step times that many calls together.
const MIN_SAMPLE_SECONDS: f64 = 20e-6;

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The median over `reps` samples of the time of one call of `f`, after three warm-up calls
/// (the first grows the step's buffers), which also choose how many calls a sample takes.
fn median_seconds(mut f: impl FnMut(), reps: usize) -> f64 {
    let warm: Vec<f64> = (0..3)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    let calls = (MIN_SAMPLE_SECONDS / median(warm).max(1e-9))
        .ceil()
        .max(1.0) as usize;
    median(
        (0..reps)
            .map(|_| {
                let s = Instant::now();
                for _ in 0..calls {
                    f();
                }
                s.elapsed().as_secs_f64() / calls as f64
            })
            .collect(),
    )
}

/// The two timings of one workload.
type Timings = Box<dyn FnMut(usize) -> (f64, f64)>;

/// Times `model` on `x` (and `dy` for the backward pass) with the training API, the step's
/// state kept across calls as a training loop keeps it.
fn workload<M, In>(mut model: M, x: In, dy: M::Out) -> Timings
where
    M: Module<f32, In> + 'static,
    In: 'static,
    M::Out: 'static,
{
    let mut work = M::Work::default();
    let mut grads = model.zero_grads();
    let mut ctx = Context::new(0);
    Box::new(move |reps| {
        let forward = median_seconds(
            || {
                black_box(model.forward_train(black_box(&x), &mut work, &mut ctx));
            },
            reps,
        );
        let forward_backward = median_seconds(
            || {
                model.forward_train(black_box(&x), &mut work, &mut ctx);
                grads.zero();
                let dx = model.backward_train(&x, black_box(&dy), &mut work, &mut grads, true);
                assert!(dx.is_some(), "the input gradient is computed");
                black_box(dx);
            },
            reps,
        );
        (forward, forward_backward)
    })
}

/// Times a layer's stateless calls: `forward` and `backward` return new tensors every call
/// (what `_stateless` rows measure), so their cost includes the allocator's.
fn stateless(mut forward: impl FnMut() + 'static, mut backward: impl FnMut() + 'static) -> Timings {
    Box::new(move |reps| {
        let f = median_seconds(&mut forward, reps);
        let fb = median_seconds(
            || {
                forward();
                backward();
            },
            reps,
        );
        (f, fb)
    })
}

/// Times a whole training step of `model` on a batch `x` with `labels`, as a training loop runs
/// it: `forward_train`, softmax cross-entropy, `grads.zero()`, `backward_train` (no input
/// gradient: the input is data), then an Adam step; and its forward pass alone.
fn train_step<M, X, C>(mut model: M, x: Tensor<X>, labels: Vec<usize>) -> Timings
where
    M: Module<f32, Tensor<X>, Out = Tensor<(C, U10)>> + 'static,
    X: shaped::Shape + 'static,
    C: shaped::Dim + 'static,
{
    let mut work = M::Work::default();
    let mut grads = model.zero_grads();
    let mut dlogits = Tensor::default();
    let mut opt = Adam::new(1e-3).expect("a valid learning rate");
    let mut ctx = Context::new(0);
    Box::new(move |reps| {
        let forward = median_seconds(
            || {
                black_box(model.forward_train(black_box(&x), &mut work, &mut ctx));
            },
            reps,
        );
        let step = median_seconds(
            || {
                let logits = model.forward_train(black_box(&x), &mut work, &mut ctx);
                let loss = softmax_cross_entropy_into(logits, &labels, &mut dlogits)
                    .expect("one label per row");
                grads.zero();
                model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
                opt.step(&mut model, &grads);
                black_box(loss);
            },
            reps,
        );
        (forward, step)
    })
}

/// The gemm crate's own time for a `side`³ f32 product `C = A·B` (row-major), called directly
/// as the crate's products call it, its rows split in equal blocks over `threads` threads (the
/// calling one and scoped others): the GEMM peak the affine and convolution rows are measured
/// against.
#[allow(unsafe_code)] // the gemm crate's API takes raw pointers
fn gemm_crate_seconds(side: usize, threads: usize, reps: usize) -> f64 {
    let mut next = noise(5);
    let a: Vec<f32> = (0..side * side).map(|_| next(&[])).collect();
    let b: Vec<f32> = (0..side * side).map(|_| next(&[])).collect();
    let mut c = vec![0.0f32; side * side];
    let gemm = gemm_f32::gemm::f32::get_gemm_fn();
    let product = |a: &[f32], c: &mut [f32]| {
        let rows = c.len() / side;
        // SAFETY: `c` is `rows × side`, `a` is `rows × side`, `b` is `side × side`, all
        // row-major and borrowed for the call; `c` is written only here. The kernels want a
        // column-major destination, so `Cᵀ = Bᵀ·Aᵀ` is what they are given.
        unsafe {
            gemm(
                side,
                rows,
                side,
                c.as_mut_ptr(),
                side as isize,
                1,
                false,
                b.as_ptr(),
                side as isize,
                1,
                a.as_ptr(),
                side as isize,
                1,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm_common::Parallelism::None,
            )
        }
    };
    let block = side.div_ceil(threads) * side;
    median_seconds(
        || {
            std::thread::scope(|s| {
                let mut parts = c.chunks_mut(block).zip(a.chunks(block));
                let (c0, a0) = parts.next().expect("one block at least");
                for (c, a) in parts {
                    s.spawn(|| product(a, c));
                }
                product(a0, c0);
            });
            black_box(&c);
        },
        reps,
    )
}

/// `n` labels in `0..10`, the same on both sides of the comparison.
fn labels(n: usize) -> Vec<usize> {
    (0..n).map(|i| (i * 7 + 3) % 10).collect()
}

fn affine<N: shaped::ConstDim, DI: shaped::ConstDim, DO: shaped::ConstDim>() -> Timings {
    let layer = Affine::<DI, DO>::new(Tensor::from_fn(noise(1)), Tensor::from_fn(noise(2)));
    let x = Tensor::<(N, DI)>::from_fn(noise(3));
    let dy = Tensor::<(N, DO)>::from_fn(noise(4));
    workload(layer, x, dy)
}

/// A convolution `(N, C, H, W) → K` filters `HF × WF`, stride `S`, padding `P`, with its input
/// and an output gradient: `(conv, x, dy)`.
macro_rules! conv_case {
    ($n:ty, $c:ty, $h:ty, $w:ty, $k:ty, $hf:ty, $wf:ty, $s:ty, $p:ty) => {{
        let conv = Conv::<$c, $k, $hf, $wf, $s, $p>::new(
            Tensor::from_fn(noise(1)),
            Tensor::from_fn(noise(2)),
        );
        let x = Tensor::<($n, $c, $h, $w)>::from_fn(noise(3));
        let dy = Tensor::<(
            $n,
            $k,
            ConvOut<$h, $hf, $s, $p>,
            ConvOut<$w, $wf, $s, $p, Width>,
        )>::from_fn(noise(4));
        (conv, x, dy)
    }};
}

/// The training calls of a convolution (see `conv_case!`).
macro_rules! conv {
    ($($dims:ty),+) => {{
        let (conv, x, dy) = conv_case!($($dims),+);
        workload(conv, x, dy)
    }};
}

/// The stateless calls of an affine layer `N × DI → DO`, followed by a ReLU when `relu` (the
/// backward pass then takes the ReLU's gradient at the forward pass's pre-activation, computed
/// once beforehand: the same work as a backward after that forward).
fn affine_stateless<N: shaped::ConstDim, DI: shaped::ConstDim, DO: shaped::ConstDim>(
    relu: bool,
) -> Timings {
    let layer = Rc::new(Affine::<DI, DO>::new(
        Tensor::from_fn(noise(1)),
        Tensor::from_fn(noise(2)),
    ));
    let x = Rc::new(Tensor::<(N, DI)>::from_fn(noise(3)));
    let dy = Tensor::<(N, DO)>::from_fn(noise(4));
    let z = layer.forward(&*x);
    let (l2, x2) = (layer.clone(), x.clone());
    stateless(
        move || {
            let z = layer.forward(black_box(&*x));
            if relu {
                black_box(ReLU.forward(&z));
            } else {
                black_box(z);
            }
        },
        move || {
            if relu {
                let dz = ReLU.backward(&z, black_box(&dy));
                black_box(l2.backward(black_box(&*x2), &dz));
            } else {
                black_box(l2.backward(black_box(&*x2), black_box(&dy)));
            }
        },
    )
}

/// The stateless calls of a convolution (see `conv_case!`).
macro_rules! conv_stateless {
    ($($dims:ty),+) => {{
        let (conv, x, dy) = conv_case!($($dims),+);
        let (conv, x) = (Rc::new(conv), Rc::new(x));
        let (c2, x2) = (conv.clone(), x.clone());
        stateless(
            move || {
                black_box(conv.forward(black_box(&*x)));
            },
            move || {
                black_box(c2.backward(black_box(&*x2), black_box(&dy)));
            },
        )
    }};
}

fn main() {
    let mut cases: Vec<(&str, Timings)> = vec![
        ("affine_1x4_3", affine::<U1, U4, U3>()),
        ("affine_32x64_32", affine::<U32, U64, U32>()),
        ("affine_relu_64x784_256", {
            let model = (
                Affine::<U784, U256>::new(Tensor::from_fn(noise(1)), Tensor::from_fn(noise(2))),
                ReLU,
            );
            let x = Tensor::<(U64, U784)>::from_fn(noise(3));
            let dy = Tensor::<(U64, U256)>::from_fn(noise(4));
            workload(model, x, dy)
        }),
        ("affine_256x1024_1024", affine::<U256, U1024, U1024>()),
        ("conv_small", conv!(U8, U3, U32, U32, U16, U3, U3, U1, U1)),
        (
            "conv_stride2",
            conv!(U32, U16, U32, U32, U32, U3, U3, U2, U1),
        ),
        ("conv_lenet", conv!(U64, U1, U28, U28, U6, U5, U5, U1, U0)),
        ("relu_256x4096", {
            let x = Tensor::<(U256, U4096)>::from_fn(noise(3));
            let dy = Tensor::<(U256, U4096)>::from_fn(noise(4));
            workload(ReLU, x, dy)
        }),
        ("relu_256x4096_stateless", {
            let x = Rc::new(Tensor::<(U256, U4096)>::from_fn(noise(3)));
            let dy = Tensor::<(U256, U4096)>::from_fn(noise(4));
            let x2 = x.clone();
            stateless(
                move || {
                    black_box(ReLU.forward(black_box(&*x)));
                },
                move || {
                    black_box(ReLU.backward(black_box(&*x2), black_box(&dy)));
                },
            )
        }),
        (
            "affine_256x1024_1024_stateless",
            affine_stateless::<U256, U1024, U1024>(false),
        ),
        (
            "conv_stride2_stateless",
            conv_stateless!(U32, U16, U32, U32, U32, U3, U3, U2, U1),
        ),
        (
            "affine_1x4_3_stateless",
            affine_stateless::<U1, U4, U3>(false),
        ),
        (
            "affine_32x64_32_stateless",
            affine_stateless::<U32, U64, U32>(false),
        ),
        (
            "affine_relu_64x784_256_stateless",
            affine_stateless::<U64, U784, U256>(true),
        ),
        (
            "conv_small_stateless",
            conv_stateless!(U8, U3, U32, U32, U16, U3, U3, U1, U1),
        ),
        (
            "conv_lenet_stateless",
            conv_stateless!(U64, U1, U28, U28, U6, U5, U5, U1, U0),
        ),
        ("step_lenet5_b64", {
            type LeNet5 = (
                Conv<U1, U6, U5, U5, U1, U2>, // (64, 1, 28, 28) -> (64, 6, 28, 28)
                ReLU,
                MaxPool2d<U2>,         // -> (64, 6, 14, 14)
                Conv<U6, U16, U5, U5>, // -> (64, 16, 10, 10)
                ReLU,
                MaxPool2d<U2>, // -> (64, 16, 5, 5)
                Flatten,       // -> (64, 400)
                Affine<U400, U120>,
                ReLU,
                Affine<U120, U84>,
                ReLU,
                Affine<U84, U10>,
            );
            let model = LeNet5::init(&mut StdRng::seed_from_u64(1));
            train_step(
                model,
                Tensor::<(U64, U1, U28, U28)>::from_fn(noise(3)),
                labels(64),
            )
        }),
        ("step_digits_cnn_b32", {
            // The model of examples/digits.rs.
            type Cnn = (
                Conv<U1, U32, U3, U3, U1, U1>,
                ReLU,
                MaxPool2d<U2>,
                Flatten,
                Affine<U512, U64>,
                ReLU,
                Affine<U64, U10>,
            );
            let model = Cnn::init(&mut StdRng::seed_from_u64(1));
            train_step(
                model,
                Tensor::<(U32, U1, U8, U8)>::from_fn(noise(3)),
                labels(32),
            )
        }),
        ("step_resnet_b32", {
            // The model of examples/resnet.rs (stem, an identity block, a projected stride-2
            // block, global average pooling), trained here with Adam like the other steps.
            type Conv3<C, K> = Conv<C, K, U3, U3, U1, U1>;
            type ResNet = (
                Conv3<U1, U16>,
                BatchNorm2d<U16>,
                ReLU,
                Residual<(
                    Conv3<U16, U16>,
                    BatchNorm2d<U16>,
                    ReLU,
                    Conv3<U16, U16>,
                    BatchNorm2d<U16>,
                )>,
                ReLU,
                Projected<
                    (
                        Conv<U16, U32, U3, U3, U2, U1>,
                        BatchNorm2d<U32>,
                        ReLU,
                        Conv3<U32, U32>,
                        BatchNorm2d<U32>,
                    ),
                    (Conv<U16, U32, U1, U1, U2, U0>, BatchNorm2d<U32>),
                >,
                ReLU,
                GlobalAvgPool,
                Affine<U32, U10>,
            );
            let model = ResNet::init(&mut StdRng::seed_from_u64(1));
            train_step(
                model,
                Tensor::<(U32, U1, U8, U8)>::from_fn(noise(3)),
                labels(32),
            )
        }),
    ];
    let args: Vec<String> = std::env::args().collect();
    // Without `--timings` (under `cargo bench`, which adds `--bench`): a quick check run.
    let reps = match args.iter().position(|a| a == "--timings") {
        Some(i) => match args.get(i + 1).and_then(|r| r.parse().ok()) {
            Some(reps) if reps > 0 => reps,
            _ => panic!("--timings takes a positive number of samples"),
        },
        None => 5,
    };
    // `--only a,b`: just the workloads named (all by default).
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let only: Vec<&str> = args
            .get(i + 1)
            .map_or("", |s| s.as_str())
            .split(',')
            .collect();
        cases.retain(|(name, _)| only.contains(name));
    }
    let fields: Vec<String> = cases
        .iter_mut()
        .map(|(name, timings)| {
            let (forward, forward_backward) = timings(reps);
            assert!(forward > 0.0 && forward_backward > 0.0, "{name}: no time");
            format!("\"{name}\": {{\"forward\": {forward:e}, \"forward_backward\": {forward_backward:e}}}")
        })
        .collect();
    // `--gemm-peak N`: also the gemm crate's own N³ product (see `gemm_crate_seconds`).
    let mut fields = fields;
    if let Some(i) = args.iter().position(|a| a == "--gemm-peak") {
        let side = match args.get(i + 1).and_then(|s| s.parse().ok()) {
            Some(side) if side > 0 => side,
            _ => panic!("--gemm-peak takes the side of the square product"),
        };
        let threads = shaped::num_threads();
        let seconds = gemm_crate_seconds(side, threads, reps);
        fields.push(format!("\"gemm_crate_peak\": {seconds:e}"));
    }
    println!("{{{}}}", fields.join(", "));
}
