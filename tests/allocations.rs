//! A training step makes no heap allocation once its buffers exist: after the first step of a
//! given batch size, a full step (forward, loss, backward, optimizer) of the digits CNN, of
//! the MLP of the examples, of a small ResNet (batch normalisation, residual blocks) and of a
//! CNN of the convolution options and of an MLP of every activation allocates nothing. Counted
//! by a global allocator that counts every
//! allocation of every thread; this file is its own test binary, so no other test shares it,
//! and runs without the test harness (`harness = false` in Cargo.toml): `main` runs the tests
//! one after another on its one thread, so no harness thread prints (and allocates) while a
//! step is counted.

use rand::{rngs::StdRng, SeedableRng};
use shaped::data::Dataset;
use shaped::{softmax_cross_entropy_into, typenum::*, Adam, Affine, Context, Conv, Dropout, Dyn};
use shaped::{BatchNorm1d, BatchNorm2d, Projected, Residual};
use shaped::{Conv2d, GlobalAvgPool, MaxPool2dHW, NoBias};
use shaped::{Flatten, Gradients, Init, MaxPool2d, Module, Params, ReLU, Sgd, Tensor};
use shaped::{LeakyReLU, SiLU, Sigmoid, Tanh, GELU};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting calls to `alloc` and `realloc` and the bytes they asked for.
struct Counting;
static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        BYTES.fetch_add(layout.size(), Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        BYTES.fetch_add(layout.size(), Ordering::SeqCst);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        BYTES.fetch_add(new_size, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocation calls and bytes made by `f`.
fn counted(f: impl FnOnce()) -> (usize, usize) {
    let (calls, bytes) = (CALLS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
    f();
    (
        CALLS.load(Ordering::SeqCst) - calls,
        BYTES.load(Ordering::SeqCst) - bytes,
    )
}

/// The digits CNN of `examples/digits.rs`.
type Cnn = (
    Conv<U1, U32, U3, U3, U1, U1>,
    ReLU,
    MaxPool2d<U2>,
    Flatten,
    Affine<U512, U64>,
    ReLU,
    Affine<U64, U10>,
);

/// A CNN of the convolution options: a grouped (4 groups), dilated convolution without bias,
/// ResNet's stem pool, a depthwise convolution and global pooling.
type OptionsCnn = (
    Conv<U1, U8, U3, U3, U1, U1>,
    ReLU,
    Conv2d<U8, U8, U3, U3, U1, U2, U2, U4, NoBias>,
    ReLU,
    MaxPool2dHW<U3, U3, U2, U2, U1, U1>,
    Conv2d<U8, U8, U3, U3, U1, U1, U1, U8>,
    GlobalAvgPool,
    Affine<U8, U10>,
);

/// The MLP of `examples/mlp.rs`, with a dropout layer as well.
type Mlp = (Affine<U64, U128>, ReLU, Dropout, Affine<U128, U10>);

/// A small ResNet: batch normalisation in 2-D and 1-D, an identity block and a downsampling
/// block with a projection shortcut, whose first convolution (3 × 3, stride 2, 32 filters) runs
/// the forward pass that reads its input in place on AVX-512 (its packed weight kept in the
/// layer's buffers).
type ResNet = (
    Conv<U1, U8, U3, U3, U1, U1>,
    BatchNorm2d<U8>,
    ReLU,
    Residual<(
        Conv<U8, U8, U3, U3, U1, U1>,
        BatchNorm2d<U8>,
        ReLU,
        Conv<U8, U8, U3, U3, U1, U1>,
        BatchNorm2d<U8>,
    )>,
    Projected<
        (
            Conv<U8, U32, U3, U3, U2, U1>,
            BatchNorm2d<U32>,
            ReLU,
            Conv<U32, U16, U3, U3, U1, U1>,
            BatchNorm2d<U16>,
        ),
        (Conv<U8, U16, U1, U1, U2, U0>, BatchNorm2d<U16>),
    >,
    ReLU,
    Flatten,
    Affine<U256, U32>,
    BatchNorm1d<U32>,
    ReLU,
    Affine<U32, U10>,
);

/// An MLP of every activation.
type Activations = (
    Affine<U64, U32>,
    GELU,
    Affine<U32, U32>,
    SiLU,
    Affine<U32, U32>,
    Tanh,
    Affine<U32, U32>,
    LeakyReLU,
    Affine<U32, U32>,
    Sigmoid,
    Affine<U32, U10>,
);

/// Deterministic data: `n` samples of `S`'s row size, labels 0..10.
fn data<S: shaped::Shape<Batch = Dyn>>(n: usize, row: usize) -> Dataset<S> {
    let x = (0..n * row)
        .map(|i| ((i * 7919) % 17) as f32 / 17.0)
        .collect();
    Dataset::new(
        Tensor::from_vec(x).unwrap(),
        (0..n).map(|i| i % 10).collect(),
    )
    .unwrap()
}

/// Trains `model` on `data` in batches of `$batch` (32 unless given; the last one partial, 45 =
/// 32 + 13) for `epochs` epochs; returns the allocation calls and bytes of each step.
macro_rules! train {
    ($model:expr, $opt:expr, $data:expr, $in:ty, $epochs:expr) => {
        train!($model, $opt, $data, $in, $epochs, 32)
    };
    ($model:expr, $opt:expr, $data:expr, $in:ty, $epochs:expr, $batch:expr) => {{
        let (model, opt, data) = (&mut $model, &mut $opt, &$data);
        let mut work = Default::default();
        let mut grads = model.zero_grads();
        let mut ctx = Context::new(3);
        let (mut x, mut dlogits) = (Tensor::default(), Tensor::default());
        let mut per_step = Vec::with_capacity(64);
        for _ in 0..$epochs {
            for b in 0..data.num_batches($batch) {
                let counts = counted(|| {
                    let labels = data.batch_into(b, $batch, &mut x);
                    let logits = Module::<f32, $in>::forward_train(model, &x, &mut work, &mut ctx);
                    let loss = softmax_cross_entropy_into(logits, labels, &mut dlogits).unwrap();
                    assert!(loss.is_finite());
                    grads.zero();
                    model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
                    grads.clip_global_norm(5.0);
                    opt.step(model, &grads);
                });
                per_step.push(counts);
            }
        }
        per_step
    }};
}

fn a_digits_cnn_step_allocates_nothing_after_the_first_of_each_batch_size() {
    let mut model = Cnn::init(&mut StdRng::seed_from_u64(0));
    let mut opt = Adam::new(2e-3).unwrap();
    let data = data::<(Dyn, U1, U8, U8)>(45, 64);
    let steps = train!(model, opt, data, Tensor<(Dyn, U1, U8, U8)>, 3);
    // Step 0 (batch 32) and step 1 (the first batch of 13) size the buffers.
    assert!(steps[0].0 > 0, "the first step allocates its buffers");
    for (i, &(calls, bytes)) in steps.iter().enumerate().skip(2) {
        assert_eq!((calls, bytes), (0, 0), "step {i} allocated: {steps:?}");
    }
}

fn a_digits_cnn_step_at_batches_of_64_to_256_allocates_nothing_after_the_first_of_each() {
    // From batch 64 on the products of the 512 → 64 layer pass 4 MFLOP (8.4 at 128, 16.8 at
    // 256), and the MLP's 64 → 128 at 256: the size from which a product may be split between
    // the cores (when the helpers are awake), and from which they went to the gemm crate until
    // 0dc65c9. Each batch size in turn: its first two steps (a full batch, then the partial
    // last one) size the buffers.
    for batch in [64, 128, 256] {
        let mut model = Cnn::init(&mut StdRng::seed_from_u64(0));
        let mut opt = Adam::new(2e-3).unwrap();
        let images = data::<(Dyn, U1, U8, U8)>(batch + 20, 64);
        let steps = train!(model, opt, images, Tensor<(Dyn, U1, U8, U8)>, 3, batch);
        for (i, &(calls, bytes)) in steps.iter().enumerate().skip(2) {
            assert_eq!((calls, bytes), (0, 0), "batch {batch}, step {i}: {steps:?}");
        }
        let mut model = Mlp::init(&mut StdRng::seed_from_u64(0));
        let mut opt = Adam::new(2e-3).unwrap();
        let rows = data::<(Dyn, U64)>(batch + 20, 64);
        let steps = train!(model, opt, rows, Tensor<(Dyn, U64)>, 3, batch);
        for (i, &(calls, bytes)) in steps.iter().enumerate().skip(2) {
            assert_eq!(
                (calls, bytes),
                (0, 0),
                "MLP batch {batch}, step {i}: {steps:?}"
            );
        }
    }
}

fn an_mlp_step_allocates_nothing_after_the_first_of_each_batch_size() {
    let mut model = Mlp::init(&mut StdRng::seed_from_u64(0));
    model.2 = Dropout::new(0.2).unwrap();
    let mut opt = Sgd::new(0.1)
        .and_then(|o| o.with_momentum(0.9))
        .and_then(|o| o.with_weight_decay(1e-4))
        .unwrap();
    let data = data::<(Dyn, U64)>(45, 64);
    let steps = train!(model, opt, data, Tensor<(Dyn, U64)>, 3);
    assert!(steps[0].0 > 0, "the first step allocates its buffers");
    for (i, &(calls, bytes)) in steps.iter().enumerate().skip(2) {
        assert_eq!((calls, bytes), (0, 0), "step {i} allocated: {steps:?}");
    }
}

fn a_resnet_step_with_batch_norm_allocates_nothing_after_the_first_of_each_batch_size() {
    let mut model = ResNet::init(&mut StdRng::seed_from_u64(0));
    let mut opt = Adam::new(1e-3).unwrap();
    let data = data::<(Dyn, U1, U8, U8)>(45, 64);
    let steps = train!(model, opt, data, Tensor<(Dyn, U1, U8, U8)>, 3);
    assert!(steps[0].0 > 0, "the first step allocates its buffers");
    for (i, &(calls, bytes)) in steps.iter().enumerate().skip(2) {
        assert_eq!((calls, bytes), (0, 0), "step {i} allocated: {steps:?}");
    }
    // Training moved the running statistics: 3 epochs of 2 batches.
    assert_eq!(model.1.num_batches_tracked, 6);
    assert_eq!(model.4.shortcut.1.num_batches_tracked, 6);
}

fn a_grouped_conv_and_global_pooling_step_allocates_nothing_after_the_first_of_each_batch_size() {
    let mut model = OptionsCnn::init(&mut StdRng::seed_from_u64(0));
    let mut opt = Adam::new(2e-3).unwrap();
    let data = data::<(Dyn, U1, U8, U8)>(45, 64);
    let steps = train!(model, opt, data, Tensor<(Dyn, U1, U8, U8)>, 3);
    assert!(steps[0].0 > 0, "the first step allocates its buffers");
    for (i, &(calls, bytes)) in steps.iter().enumerate().skip(2) {
        assert_eq!((calls, bytes), (0, 0), "step {i} allocated: {steps:?}");
    }
}

fn a_step_through_every_activation_allocates_nothing_after_the_first_of_each_batch_size() {
    let mut model = Activations::init(&mut StdRng::seed_from_u64(0));
    let mut opt = Adam::new(1e-3).unwrap();
    let data = data::<(Dyn, U64)>(45, 64);
    let steps = train!(model, opt, data, Tensor<(Dyn, U64)>, 3);
    assert!(steps[0].0 > 0, "the first step allocates its buffers");
    for (i, &(calls, bytes)) in steps.iter().enumerate().skip(2) {
        assert_eq!((calls, bytes), (0, 0), "step {i} allocated: {steps:?}");
    }
}

/// Each test, one after another on this thread, as the harness would name them.
fn main() {
    let tests: [(&str, fn()); 6] = [
        ("a_digits_cnn_step_allocates_nothing_after_the_first_of_each_batch_size", a_digits_cnn_step_allocates_nothing_after_the_first_of_each_batch_size),
        ("a_digits_cnn_step_at_batches_of_64_to_256_allocates_nothing_after_the_first_of_each", a_digits_cnn_step_at_batches_of_64_to_256_allocates_nothing_after_the_first_of_each),
        ("an_mlp_step_allocates_nothing_after_the_first_of_each_batch_size", an_mlp_step_allocates_nothing_after_the_first_of_each_batch_size),
        ("a_resnet_step_with_batch_norm_allocates_nothing_after_the_first_of_each_batch_size", a_resnet_step_with_batch_norm_allocates_nothing_after_the_first_of_each_batch_size),
        ("a_grouped_conv_and_global_pooling_step_allocates_nothing_after_the_first_of_each_batch_size", a_grouped_conv_and_global_pooling_step_allocates_nothing_after_the_first_of_each_batch_size),
        ("a_step_through_every_activation_allocates_nothing_after_the_first_of_each_batch_size", a_step_through_every_activation_allocates_nothing_after_the_first_of_each_batch_size),
    ];
    for (name, test) in tests {
        test();
        println!("test {name} ... ok");
    }
    println!("\ntest result: ok. {} passed; 0 failed", tests.len());
}
