//! A small ResNet, written as types, trained on the bundled handwritten digits.
//!
//! `cargo run --release --example resnet` holds out the same 20 % of
//! `examples/data/digits.csv.gz` as `examples/digits.rs` (seed 0), and trains a stem
//! (convolution, batch normalisation, ReLU), an identity residual block, a downsampling block
//! with a projection shortcut (a stride-2 1 × 1 convolution and batch normalisation), global
//! average pooling and a linear head, with SGD (momentum 0.9, weight decay 5e-4, the learning
//! rate on a cosine schedule over the epochs) and softmax cross-entropy. It prints the test
//! accuracy (batch normalisation on its running statistics) and the training time, and saves
//! the model with PyTorch's names beside the rows it held out, for the PyTorch twin of the same
//! model and schedule in `benches/resnet_vs_pytorch.py`.

#[path = "common/digits.rs"]
mod digits;

use shaped::rand::{rngs::StdRng, SeedableRng};
use shaped::{io, softmax_cross_entropy_into, typenum::*, Affine, BatchNorm2d, Context, Conv};
use shaped::{Dyn, GlobalAvgPool, Gradients, Init, Module, Params, Projected, ReLU, Residual};
use shaped::{Sgd, Tensor};
use std::time::Instant;

/// Images per training step.
const BATCH: usize = 32;
/// Passes over the training images.
const EPOCHS: usize = 20;
/// The learning rate of the first epoch; it falls to 0 on a cosine over the epochs.
const LR: f32 = 0.1;
const MOMENTUM: f32 = 0.9;
const WEIGHT_DECAY: f32 = 5e-4;

/// A batch of any number of 1-channel 8 × 8 images.
type Images = (Dyn, U1, U8, U8);

/// A 3 × 3 convolution keeping the size (padding 1), stride 1.
type Conv3<C, K> = Conv<C, K, U3, U3, U1, U1>;

/// Every junction is checked by the compiler: change one dim and this does not compile.
type ResNet = (
    Conv3<U1, U16>, // (N, 1, 8, 8) -> (N, 16, 8, 8), the stem
    BatchNorm2d<U16>,
    ReLU,
    // x + block(x): the block must give back (N, 16, 8, 8).
    Residual<(
        Conv3<U16, U16>,
        BatchNorm2d<U16>,
        ReLU,
        Conv3<U16, U16>,
        BatchNorm2d<U16>,
    )>,
    ReLU,
    // shortcut(x) + block(x), both -> (N, 32, 4, 4).
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
    GlobalAvgPool,    // -> (N, 32), as nn.AdaptiveAvgPool2d(1) and nn.Flatten()
    Affine<U32, U10>, // -> (N, 10) logits
);

/// The learning rate of epoch `epoch` (0-based): PyTorch's `CosineAnnealingLR` with
/// `T_max = EPOCHS`, stepped once an epoch.
fn lr_at(epoch: usize) -> f32 {
    let t = epoch as f64 / EPOCHS as f64;
    (f64::from(LR) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())) as f32
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let all = digits::load()?;
    let rows = all.len();
    let (train, test) = digits::split(all.clone(), 0)?;
    // The rows of each half, for the PyTorch twin: the same images as `split`'s, in its order.
    let (train_rows, test_rows) = digits::split_rows(rows, 0)?;
    let same = |rows: &[usize], half: &[digits::Digit]| {
        rows.len() == half.len() && rows.iter().zip(half).all(|(&r, d)| all[r] == *d)
    };
    assert!(same(&train_rows, &train) && same(&test_rows, &test));
    let mut train = digits::dataset::<Images>(&train)?;
    let test = digits::dataset::<Images>(&test)?;
    println!(
        "digits: {} training and {} test images",
        train.len(),
        test.len()
    );

    let mut rng = StdRng::seed_from_u64(1);
    let mut model = ResNet::init(&mut rng);
    let mut opt = Sgd::new(LR)?
        .with_momentum(MOMENTUM)?
        .with_weight_decay(WEIGHT_DECAY)?;
    let steps = train.len().div_ceil(BATCH);
    let bar = digits::progress((EPOCHS * steps) as u64);
    // Everything a step needs lives here, allocated at the first step and reused.
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let (mut x, mut dlogits) = (Tensor::default(), Tensor::default());
    let mut ctx = Context::new(1);
    let start = Instant::now();
    for epoch in 1..=EPOCHS {
        opt.set_lr(lr_at(epoch - 1))?;
        train.shuffle(&mut rng);
        let (mut loss_sum, mut right, mut seen) = (0.0, 0.0, 0);
        for b in 0..steps {
            let labels = train.batch_into(b, BATCH, &mut x);
            // Training mode: batch normalisation on the batch's statistics, which move the
            // running ones.
            let logits = model.forward_train(&x, &mut work, &mut ctx);
            let loss = softmax_cross_entropy_into(logits, labels, &mut dlogits)?;
            let n = labels.len();
            right += digits::accuracy(logits.as_slice(), labels) * n as f64;
            loss_sum += f64::from(loss) * n as f64;
            seen += n;
            grads.zero();
            model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
            opt.step(&mut model, &grads);
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}/{EPOCHS}  loss {:.4}  train accuracy {:.1} %",
                loss_sum / seen as f64,
                100.0 * right / seen as f64
            ));
        }
        if epoch % 5 == 0 {
            bar.suspend(|| {
                println!(
                    "epoch {epoch:>2}: lr {:.4}, loss {:.4}, train accuracy {:.2} %",
                    lr_at(epoch - 1),
                    loss_sum / seen as f64,
                    100.0 * right / seen as f64
                )
            });
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    // Evaluation: batch normalisation on the running statistics, the whole test set at once.
    let logits = model.infer(test.inputs());
    let accuracy = digits::accuracy(logits.as_slice(), test.labels());
    let wrong = (test.len() as f64 * (1.0 - accuracy)).round();
    println!(
        "test accuracy: {:.2} % ({} images, {wrong} wrong)",
        100.0 * accuracy,
        test.len()
    );
    println!(
        "training time: {seconds:.2} s ({EPOCHS} epochs of {steps} steps of up to {BATCH} images)"
    );

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("resnet.safetensors");
    io::save(&model, &path)?;
    let mut reloaded = ResNet::init(&mut StdRng::seed_from_u64(99));
    io::load(&mut reloaded, &path)?;
    let line = |name: &str, rows: &[usize]| {
        let rows: Vec<String> = rows.iter().map(usize::to_string).collect();
        format!("{name} {}\n", rows.join(" "))
    };
    let split = dir.join("resnet-split.txt");
    std::fs::write(
        &split,
        line("train", &train_rows) + &line("test", &test_rows),
    )?;
    println!(
        "saved to {} (the rows held out: {})",
        path.display(),
        split.display()
    );

    assert_eq!(
        reloaded.infer(test.inputs()).as_slice(),
        logits.as_slice(),
        "the saved model, running statistics included, predicts the same"
    );
    assert_eq!(
        reloaded.1.num_batches_tracked,
        (EPOCHS * steps) as i64,
        "one batch counted a step"
    );
    assert!(accuracy >= 0.99, "test accuracy {accuracy} is below 99 %");
    Ok(())
}
