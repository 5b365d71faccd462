//! The main job: a small CNN, written as types, trained on the bundled handwritten digits.
//!
//! `cargo run --release --example digits` loads `examples/data/digits.csv.gz`, splits it
//! 80/20 with a fixed seed, trains with Adam and softmax cross-entropy on every training image
//! each epoch (the last batch is partial: the batch dim is `Dyn`), prints the test accuracy and
//! the training time, and saves the model as safetensors with PyTorch's names (it loads into
//! the `nn.Sequential` of the same layers).

#[path = "common/digits.rs"]
mod digits;

use shaped::rand::{rngs::StdRng, SeedableRng};
use shaped::{io, softmax_cross_entropy_into, typenum::*, Adam, Affine, Context, Conv, Dyn};
use shaped::{Flatten, Gradients, Init, MaxPool2d, Module, Params, ReLU, Tensor};
use std::time::Instant;

/// Images per training step.
const BATCH: usize = 32;

/// A batch of any number of 1-channel 8 × 8 images.
type Images = (Dyn, U1, U8, U8);

/// Every junction is checked by the compiler: change one dim and this does not compile.
type Cnn = (
    Conv<U1, U32, U3, U3, U1, U1>, // (N, 1, 8, 8)  -> (N, 32, 8, 8)
    ReLU,
    MaxPool2d<U2>,     // -> (N, 32, 4, 4)
    Flatten,           // -> (N, 512)
    Affine<U512, U64>, // -> (N, 64)
    ReLU,
    Affine<U64, U10>, // -> (N, 10) logits
);

const EPOCHS: usize = 40;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = digits::split(digits::load()?, 0)?;
    let mut train = digits::dataset::<Images>(&train)?;
    let test = digits::dataset::<Images>(&test)?;
    println!(
        "digits: {} training and {} test images",
        train.len(),
        test.len()
    );

    let mut rng = StdRng::seed_from_u64(1);
    let mut model = Cnn::init(&mut rng);
    let mut opt = Adam::new(2e-3)?;
    let steps = train.len().div_ceil(BATCH);
    let bar = digits::progress((EPOCHS * steps) as u64);
    // Everything a step needs lives here, allocated at the first step and reused: after it, a
    // step makes no heap allocation.
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let (mut x, mut dlogits) = (Tensor::default(), Tensor::default());
    let mut ctx = Context::new(1);
    let start = Instant::now();
    for epoch in 1..=EPOCHS {
        train.shuffle(&mut rng);
        let (mut loss_sum, mut right, mut seen) = (0.0, 0.0, 0);
        for b in 0..steps {
            let labels = train.batch_into(b, BATCH, &mut x);
            let logits = model.forward_train(&x, &mut work, &mut ctx);
            let loss = softmax_cross_entropy_into(logits, labels, &mut dlogits)?;
            // Weighted by the batch's size: the last batch is smaller.
            let n = labels.len();
            right += digits::accuracy(logits.as_slice(), labels) * n as f64;
            loss_sum += f64::from(loss) * n as f64;
            seen += n;
            grads.zero(); // PyTorch's zero_grad: backward adds into the gradients
            model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
            opt.step(&mut model, &grads);
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}/{EPOCHS}  loss {:.4}  train accuracy {:.1} %",
                loss_sum / seen as f64,
                100.0 * right / seen as f64
            ));
        }
        if epoch % 10 == 0 {
            bar.suspend(|| {
                println!(
                    "epoch {epoch:>2}: loss {:.4}, train accuracy {:.2} %",
                    loss_sum / seen as f64,
                    100.0 * right / seen as f64
                )
            });
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    // The whole test set in one call, whatever its size.
    let logits = model.infer(test.inputs());
    let accuracy = digits::accuracy(logits.as_slice(), test.labels());
    println!(
        "test accuracy: {:.2} % ({} images)",
        100.0 * accuracy,
        test.len()
    );
    println!(
        "training time: {seconds:.1} s ({EPOCHS} epochs of {steps} steps of up to {BATCH} images)"
    );

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/digits-cnn.safetensors");
    io::save(&model, &path)?;
    let mut reloaded = Cnn::init(&mut StdRng::seed_from_u64(99));
    io::load(&mut reloaded, &path)?;
    println!("saved to {}", path.display());

    assert_eq!(
        reloaded.infer(test.inputs()).as_slice(),
        logits.as_slice(),
        "the saved model predicts the same"
    );
    assert!(accuracy >= 0.98, "test accuracy {accuracy} is below 98 %");
    Ok(())
}
