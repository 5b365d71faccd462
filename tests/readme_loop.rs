//! The README's training loop ("Define a model"), verbatim in a function that a test runs on a
//! small data set: the block is `rust,ignore` in the README (it uses the data it is given,
//! `seed`, `pixels`, `labels` and `test`), and `tests/readme.rs` checks that this file holds
//! it unchanged.

use shaped::data::Dataset;
use shaped::typenum::{U1, U8};
use shaped::Dyn;

type Error = Box<dyn std::error::Error>;

/// The README's block, its data given.
#[rustfmt::skip]
#[allow(unused_variables)]
fn readme_loop(
    seed: u64,
    pixels: Vec<f32>,
    labels: Vec<usize>,
    test: &Dataset<(Dyn, U1, U8, U8)>,
) -> Result<(), Error> {
use shaped::{typenum::*, data::Dataset, Adam, Affine, Context, Conv, Dyn, Flatten, Gradients};
use shaped::{softmax_cross_entropy_into, Init, MaxPool2d, Module, Params, ReLU, Tensor};
use shaped::rand::{rngs::StdRng, SeedableRng}; // shaped's own rand (0.9): no `cargo add rand`

type Cnn = (
    Conv<U1, U32, U3, U3, U1, U1>, // (N, 1, 8, 8)  -> (N, 32, 8, 8)
    ReLU,
    MaxPool2d<U2>,     // -> (N, 32, 4, 4)
    Flatten,           // -> (N, 512)
    Affine<U512, U64>, // -> (N, 64)
    ReLU,
    Affine<U64, U10>,  // -> (N, 10) logits
);

let mut rng = StdRng::seed_from_u64(seed);
let mut model = Cnn::init(&mut rng);            // PyTorch's default initialisation, seeded
let mut opt = Adam::new(2e-3)?;                 // settings checked: a NaN or negative lr is `Err`
// Any number of images: the batch dim is `Dyn`, counted from the data (whole images or `Err`).
let images = Tensor::<(Dyn, U1, U8, U8)>::from_vec(pixels)?;
let mut train = Dataset::new(images, labels)?;  // one label per image, or `Err`

// Everything a step needs, kept across steps: allocated by the first step, then reused.
let mut work = Default::default();              // every layer's output and backward buffers
let mut grads = model.zero_grads();             // (ConvGrads, (), (), (), AffineGrads, (), AffineGrads)
let (mut x, mut dlogits) = (Tensor::default(), Tensor::default());
let mut ctx = Context::new(seed);               // the seeded generator of dropout masks
train.shuffle(&mut rng);
for b in 0..train.num_batches(32) {             // the last batch is partial
    let labels = train.batch_into(b, 32, &mut x);
    let logits = model.forward_train(&x, &mut work, &mut ctx);
    let loss = softmax_cross_entropy_into(logits, labels, &mut dlogits)?;
    grads.zero();                               // backward adds into the gradients, as .grad
    model.backward_train(&x, &dlogits, &mut work, &mut grads, false); // no dX for the data
    grads.clip_global_norm(5.0);                // optional: scale, clip, accumulate
    opt.step(&mut model, &grads);
}
let logits = model.infer(test.inputs());        // the whole test set in one call
shaped::io::save(&model, "cnn.safetensors")?;   // "0.weight", "4.weight", … as nn.Sequential
shaped::io::save_optimizer(&opt, "adam.safetensors")?; // resume later, bit for bit
Ok(())
}

#[test]
fn the_readme_training_loop_trains_and_saves() -> Result<(), Error> {
    use shaped::Tensor;
    let dir = tempfile::tempdir()?;
    // The block saves to relative paths: this test is the only one of its binary.
    std::env::set_current_dir(dir.path())?;
    let n = 40; // a full batch of 32 and a partial one of 8
    let pixels: Vec<f32> = (0..n * 64)
        .map(|i| ((i * 7919) % 17) as f32 / 17.0)
        .collect();
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let test = Dataset::new(
        Tensor::from_vec(pixels[..10 * 64].to_vec())?,
        labels[..10].to_vec(),
    )?;
    readme_loop(0, pixels, labels, &test)?;
    for file in ["cnn.safetensors", "adam.safetensors"] {
        let len = std::fs::metadata(dir.path().join(file))?.len();
        assert!(len > 0, "{file} is empty");
    }
    Ok(())
}
