//! A multi-layer perceptron on the bundled handwritten digits: 64 pixels -> 128 -> 10.
//!
//! `cargo run --release --example mlp`

#[path = "common/digits.rs"]
mod digits;

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use shaped::{softmax_cross_entropy, typenum::*, Affine, Init, Module, ReLU, Sgd, Tensor};
use std::time::Instant;

type Batch = U32;
type Mlp = (Affine<U64, U128>, ReLU, Affine<U128, U10>);
const EPOCHS: usize = 40;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut train, test) = digits::split(digits::load()?, 0);
    let mut rng = StdRng::seed_from_u64(1);
    let mut model = Mlp::init(&mut rng);
    let mut opt = Sgd::new(0.1).with_momentum(0.9).with_weight_decay(1e-4);
    let steps = train.len() / Batch::USIZE;
    let bar = digits::progress((EPOCHS * steps) as u64);
    let start = Instant::now();
    for epoch in 1..=EPOCHS {
        train.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for step in 0..steps {
            let (pixels, labels) = digits::batch(&train[step * Batch::USIZE..][..Batch::USIZE]);
            let x = Tensor::<(Batch, U64)>::from_vec(pixels)?;
            let (logits, cache) = model.forward_train(x);
            let (loss, dlogits) = softmax_cross_entropy(&logits, &labels)?;
            let (_, grads) = model.backward_train(cache, &dlogits);
            opt.step(&mut model, &grads);
            loss_sum += f64::from(loss);
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}/{EPOCHS}  loss {:.4}",
                loss_sum / (step + 1) as f64
            ));
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    let (pixels, labels) = digits::batch(&test);
    let logits = model.infer(&Tensor::<(U360, U64)>::from_vec(pixels)?);
    let accuracy = digits::accuracy(logits.as_slice(), &labels);
    println!(
        "MLP test accuracy: {:.2} % ({} images)",
        100.0 * accuracy,
        test.len()
    );
    println!("training time: {seconds:.2} s ({EPOCHS} epochs)");
    assert!(accuracy >= 0.96, "test accuracy {accuracy} is below 96 %");
    Ok(())
}
