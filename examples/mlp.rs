//! A multi-layer perceptron on the bundled handwritten digits: 64 pixels -> 128 -> 10.
//!
//! `cargo run --release --example mlp`

#[path = "common/digits.rs"]
mod digits;

use shaped::rand::{rngs::StdRng, SeedableRng};
use shaped::{softmax_cross_entropy_into, typenum::*, Affine, Context, Dyn, Gradients, Init};
use shaped::{Module, Params, ReLU, Sgd, Tensor};
use std::time::Instant;

const BATCH: usize = 32;
type Mlp = (Affine<U64, U128>, ReLU, Affine<U128, U10>);
const EPOCHS: usize = 40;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = digits::split(digits::load()?, 0)?;
    let mut train = digits::dataset::<(Dyn, U64)>(&train)?;
    let test = digits::dataset::<(Dyn, U64)>(&test)?;
    let mut rng = StdRng::seed_from_u64(1);
    let mut model = Mlp::init(&mut rng);
    let mut opt = Sgd::new(0.1)?.with_momentum(0.9)?.with_weight_decay(1e-4)?;
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
        let (mut loss_sum, mut seen) = (0.0, 0);
        for b in 0..steps {
            let labels = train.batch_into(b, BATCH, &mut x);
            let logits = model.forward_train(&x, &mut work, &mut ctx);
            let loss = softmax_cross_entropy_into(logits, labels, &mut dlogits)?;
            grads.zero();
            model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
            opt.step(&mut model, &grads);
            loss_sum += f64::from(loss) * labels.len() as f64;
            seen += labels.len();
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}/{EPOCHS}  loss {:.4}",
                loss_sum / seen as f64
            ));
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    let logits = model.infer(test.inputs());
    let accuracy = digits::accuracy(logits.as_slice(), test.labels());
    println!(
        "MLP test accuracy: {:.2} % ({} images)",
        100.0 * accuracy,
        test.len()
    );
    println!("training time: {seconds:.2} s ({EPOCHS} epochs)");
    assert!(accuracy >= 0.96, "test accuracy {accuracy} is below 96 %");
    Ok(())
}
