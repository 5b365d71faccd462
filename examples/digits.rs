//! The main job: a small CNN, written as types, trained on the bundled handwritten digits.
//!
//! `cargo run --release --example digits` loads `examples/data/digits.csv.gz`, splits it
//! 80/20 with a fixed seed, trains with Adam and softmax cross-entropy, prints the test
//! accuracy and the training time, and saves the model as safetensors with PyTorch's names
//! (it loads into the `nn.Sequential` of the same layers).

#[path = "common/digits.rs"]
mod digits;

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use shaped::{io, softmax_cross_entropy, typenum::*, Adam, Affine, Conv, Flatten, Init};
use shaped::{MaxPool2d, Module, ReLU, Tensor};
use std::time::Instant;

/// Images per training step.
type Batch = U32;

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
    let (mut train, test) = digits::split(digits::load()?, 0);
    println!(
        "digits: {} training and {} test images",
        train.len(),
        test.len()
    );

    let mut rng = StdRng::seed_from_u64(1);
    let mut model = Cnn::init(&mut rng);
    let mut opt = Adam::new(2e-3);
    let steps = train.len() / Batch::USIZE;
    let bar = digits::progress((EPOCHS * steps) as u64);
    let start = Instant::now();
    for epoch in 1..=EPOCHS {
        train.shuffle(&mut rng);
        let (mut loss_sum, mut right) = (0.0, 0.0);
        for step in 0..steps {
            let (pixels, labels) = digits::batch(&train[step * Batch::USIZE..][..Batch::USIZE]);
            let x = Tensor::<(Batch, U1, U8, U8)>::from_vec(pixels)?;
            let (logits, cache) = model.forward_train(x);
            let (loss, dlogits) = softmax_cross_entropy(&logits, &labels)?;
            let (_, grads) = model.backward_train(cache, &dlogits);
            opt.step(&mut model, &grads);
            loss_sum += f64::from(loss);
            right += digits::accuracy(logits.as_slice(), &labels);
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}/{EPOCHS}  loss {:.4}  train accuracy {:.1} %",
                loss_sum / (step + 1) as f64,
                100.0 * right / (step + 1) as f64
            ));
        }
        if epoch % 10 == 0 {
            bar.suspend(|| {
                println!(
                    "epoch {epoch:>2}: loss {:.4}, train accuracy {:.2} %",
                    loss_sum / steps as f64,
                    100.0 * right / steps as f64
                )
            });
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    let (pixels, labels) = digits::batch(&test);
    let x = Tensor::<(U360, U1, U8, U8)>::from_vec(pixels)?;
    let logits = model.infer(&x);
    let accuracy = digits::accuracy(logits.as_slice(), &labels);
    println!(
        "test accuracy: {:.2} % ({} images)",
        100.0 * accuracy,
        test.len()
    );
    println!(
        "training time: {seconds:.1} s ({EPOCHS} epochs of {steps} steps of {} images)",
        Batch::USIZE
    );

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/digits-cnn.safetensors");
    io::save(&model, &path)?;
    let mut reloaded = Cnn::init(&mut StdRng::seed_from_u64(99));
    io::load(&mut reloaded, &path)?;
    println!("saved to {}", path.display());

    assert_eq!(
        reloaded.infer(&x).as_slice(),
        logits.as_slice(),
        "the saved model predicts the same"
    );
    assert!(accuracy >= 0.98, "test accuracy {accuracy} is below 98 %");
    Ok(())
}
