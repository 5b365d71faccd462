//! The training contract: gradients accumulate like PyTorch's `.grad`, dropout's gradient is
//! its mask and its masks are seeded, the first layer can skip its input gradient, and a saved
//! optimizer resumes training bit for bit.

mod common;
use common::train_pass;
use rand::{rngs::StdRng, SeedableRng};
use shaped::io;
use shaped::{softmax_cross_entropy_into, typenum::*, Adam, Affine, Context, Conv, Dropout, Dyn};
use shaped::{Flatten, Gradients, Init, MaxPool2d, Module, Params, ReLU, Sgd, Tensor, Tensors};

type Cnn = (
    Conv<U1, U4, U3, U3, U1, U1, f64>,
    ReLU,
    MaxPool2d<U2>,
    Flatten,
    Affine<U64, U10, f64>,
);

fn batch(seed: usize, n: usize) -> (Tensor<(Dyn, U1, U8, U8), f64>, Vec<usize>) {
    let x = (0..n * 64)
        .map(|i| (((i + 31 * seed) * 7919) % 23) as f64 / 23.0 - 0.4)
        .collect();
    let labels = (0..n).map(|i| (i * 3 + seed) % 10).collect();
    (Tensor::from_vec(x).unwrap(), labels)
}

/// One forward and backward pass adding into `grads`; returns the loss.
fn pass(
    model: &mut Cnn,
    work: &mut <Cnn as Module<f64, Tensor<(Dyn, U1, U8, U8), f64>>>::Work,
    grads: &mut <Cnn as Params<f64>>::Grads,
    seed: usize,
) -> f64 {
    let (x, labels) = batch(seed, 5);
    let mut dlogits = Tensor::default();
    let logits = model.forward_train(&x, work, &mut Context::new(0));
    let loss = softmax_cross_entropy_into(logits, &labels, &mut dlogits).unwrap();
    model.backward_train(&x, &dlogits, work, grads, false);
    loss
}

#[test]
fn two_backward_passes_without_zeroing_add_up() {
    let mut model = Cnn::init(&mut StdRng::seed_from_u64(0));
    let mut work = Default::default();
    let (mut g1, mut g2, mut both) = (model.zero_grads(), model.zero_grads(), model.zero_grads());
    pass(&mut model, &mut work, &mut g1, 1);
    pass(&mut model, &mut work, &mut g2, 2);
    pass(&mut model, &mut work, &mut both, 1);
    pass(&mut model, &mut work, &mut both, 2);
    for i in 0..g1.count() {
        let sum: Vec<f64> = g1
            .tensor(i)
            .iter()
            .zip(g2.tensor(i))
            .map(|(a, b)| a + b)
            .collect();
        let e = common::rel_err(both.tensor(i), &sum);
        assert!(e < 1e-14, "tensor {i}: relative error {e:e}");
    }
    assert!(g1.global_norm() > 0.0);
    // Zeroing starts over.
    both.zero();
    pass(&mut model, &mut work, &mut both, 1);
    assert_eq!(both, g1);
}

#[test]
fn the_first_layer_can_skip_its_input_gradient() {
    let mut model = Cnn::init(&mut StdRng::seed_from_u64(1));
    let (x, labels) = batch(3, 4);
    let mut work = Default::default();
    let mut dlogits = Tensor::default();
    let logits = model.forward_train(&x, &mut work, &mut Context::new(0));
    softmax_cross_entropy_into(logits, &labels, &mut dlogits).unwrap();
    let (mut with, mut without) = (model.zero_grads(), model.zero_grads());
    let dx = model.backward_train(&x, &dlogits, &mut work, &mut with, true);
    assert_eq!(dx.map(|d| d.dims()), Some([4, 1, 8, 8]));
    let dx = model.backward_train(&x, &dlogits, &mut work, &mut without, false);
    assert!(dx.is_none());
    assert_eq!(with, without, "the parameter gradients do not depend on it");
}

#[test]
fn dropout_gradient_is_its_mask_and_the_seed_fixes_the_mask() {
    let mut layer = Dropout::new(0.3).unwrap();
    let x = Tensor::<(U4, U50), f64>::from_fn(|i| 1.0 + (i[0] * 50 + i[1]) as f64);
    let mut work = Default::default();
    let y = layer
        .forward_train(&x, &mut work, &mut Context::new(11))
        .clone();
    // y = x ∘ mask with mask ∈ {0, 1/(1 − p)}: PyTorch's scaling.
    let mask: Vec<f64> = y
        .as_slice()
        .iter()
        .zip(x.as_slice())
        .map(|(y, x)| y / x)
        .collect();
    let keep = 1.0 / 0.7;
    assert!(mask.iter().all(|&m| m == 0.0 || (m - keep).abs() < 1e-12));
    let dropped = mask.iter().filter(|&&m| m == 0.0).count();
    assert!(
        (30..=90).contains(&dropped),
        "{dropped} of 200 dropped at p = 0.3"
    );
    // ∂y/∂x is the mask.
    let dy = Tensor::<(U4, U50), f64>::from_fn(|i| (i[1] as f64).cos());
    let mut none = ();
    let dx = layer
        .backward_train(&x, &dy, &mut work, &mut none, true)
        .unwrap();
    for ((&d, &g), &m) in dx.as_slice().iter().zip(dy.as_slice()).zip(&mask) {
        assert!((d - g * m).abs() < 1e-12);
    }
    // The same seed gives the same mask; another seed another.
    let again = layer
        .forward_train(&x, &mut work, &mut Context::new(11))
        .clone();
    assert_eq!(again, y);
    let other = layer
        .forward_train(&x, &mut work, &mut Context::new(12))
        .clone();
    assert_ne!(other, y);
    // Evaluation: the identity. p = 1 drops everything; p outside [0, 1] is refused.
    assert_eq!(layer.infer(&x), x);
    let mut all = Dropout::new(1.0).unwrap();
    let y = all.forward_train(&x, &mut work, &mut Context::new(0));
    assert!(y.as_slice().iter().all(|&v| v == 0.0));
    let err = Dropout::new(1.5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid optimizer setting p = 1.5: expected a probability in [0, 1]"
    );
}

#[test]
fn dropout_in_a_model_trains_reproducibly_from_a_seed() {
    type Net = (Affine<U8, U16, f64>, ReLU, Dropout, Affine<U16, U3, f64>);
    let run = |seed: u64| {
        let mut model = Net::init(&mut StdRng::seed_from_u64(0));
        let mut opt = Adam::new(1e-2).unwrap();
        let mut ctx = Context::new(seed);
        let mut work = Default::default();
        let mut grads = model.zero_grads();
        let mut dlogits = Tensor::default();
        let x =
            Tensor::<(Dyn, U8), f64>::from_vec((0..48).map(|i| i as f64 / 48.0).collect()).unwrap();
        for _ in 0..5 {
            let logits = model.forward_train(&x, &mut work, &mut ctx);
            softmax_cross_entropy_into(logits, &[0, 1, 2, 0, 1, 2], &mut dlogits).unwrap();
            grads.zero();
            model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
            opt.step(&mut model, &grads);
        }
        model
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

/// `steps` Adam steps on fixed batches from `(model, opt)`.
fn adam_steps(model: &mut Cnn, opt: &mut Adam<Cnn, f64>, from: usize, steps: usize) {
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    for s in from..from + steps {
        grads.zero();
        pass(model, &mut work, &mut grads, s);
        opt.step(model, &grads);
    }
}

#[test]
fn adam_resumes_bit_for_bit_after_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let (model_path, opt_path) = (dir.path().join("m.safetensors"), dir.path().join("o.st"));
    let fresh = || Cnn::init(&mut StdRng::seed_from_u64(7));
    let new_opt = || Adam::<Cnn, f64>::new(1e-2).and_then(|o| o.with_weight_decay(1e-3));

    // Four steps straight.
    let (mut straight, mut opt) = (fresh(), new_opt().unwrap());
    adam_steps(&mut straight, &mut opt, 0, 4);

    // Two steps, save both, load into new values, two more.
    let (mut first, mut opt1) = (fresh(), new_opt().unwrap());
    adam_steps(&mut first, &mut opt1, 0, 2);
    io::save(&first, &model_path).unwrap();
    io::save_optimizer(&opt1, &opt_path).unwrap();
    let mut resumed = Cnn::init(&mut StdRng::seed_from_u64(99));
    io::load(&mut resumed, &model_path).unwrap();
    let mut opt2 = new_opt().unwrap();
    io::load_optimizer(&mut opt2, &resumed, &opt_path).unwrap();
    assert_eq!(opt2.steps(), 2);
    assert_eq!(opt2.moments(), opt1.moments());
    adam_steps(&mut resumed, &mut opt2, 2, 2);

    assert_eq!(
        resumed, straight,
        "parameters after 2 + 2 steps equal those after 4"
    );
    assert_eq!(opt2.moments(), opt.moments());
    assert_eq!(opt2.steps(), 4);
}

/// An MLP with dropout: its masks come from the step's context.
type DropMlp = (Affine<U64, U32, f64>, ReLU, Dropout, Affine<U32, U10, f64>);

/// `steps` Adam steps of `model` from step `from`: in the context `kept` when given, else in
/// one made for each step (`Context::for_step(11, step)`).
fn dropout_steps(
    model: &mut DropMlp,
    opt: &mut Adam<DropMlp, f64>,
    from: usize,
    steps: usize,
    mut kept: Option<&mut Context>,
) {
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let mut dlogits = Tensor::default();
    for s in from..from + steps {
        let (x, labels) = batch(s, 6);
        let x: Tensor<(Dyn, U64), f64> = x.reshape();
        let mut per_step = Context::for_step(11, s as u64);
        let ctx = kept.as_deref_mut().unwrap_or(&mut per_step);
        grads.zero();
        let logits = model.forward_train(&x, &mut work, ctx);
        softmax_cross_entropy_into(logits, &labels, &mut dlogits).unwrap();
        model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
        opt.step(model, &grads);
    }
}

#[test]
fn training_with_dropout_resumes_bit_for_bit_with_a_context_made_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let (model_path, opt_path) = (dir.path().join("m.safetensors"), dir.path().join("o.st"));
    let fresh = || {
        let mut m = DropMlp::init(&mut StdRng::seed_from_u64(5));
        m.2 = Dropout::new(0.5).unwrap();
        m
    };
    let new_opt = || Adam::<DropMlp, f64>::new(1e-2).unwrap();
    // Two steps, saved, loaded into new values, two more: from the step count saved with the
    // optimizer, each in a context made anew (`None`), or in a context kept across steps and
    // made anew on resuming.
    let two_plus_two = |kept: bool| {
        let (mut first, mut opt1) = (fresh(), new_opt());
        let mut ctx = Context::new(11);
        dropout_steps(&mut first, &mut opt1, 0, 2, kept.then_some(&mut ctx));
        io::save(&first, &model_path).unwrap();
        io::save_optimizer(&opt1, &opt_path).unwrap();
        let mut resumed = fresh();
        io::load(&mut resumed, &model_path).unwrap();
        let mut opt2 = new_opt();
        io::load_optimizer(&mut opt2, &resumed, &opt_path).unwrap();
        let from = opt2.steps() as usize;
        let mut ctx = Context::new(11);
        dropout_steps(&mut resumed, &mut opt2, from, 2, kept.then_some(&mut ctx));
        resumed
    };
    let four = |kept: bool| {
        let (mut model, mut opt) = (fresh(), new_opt());
        let mut ctx = Context::new(11);
        dropout_steps(&mut model, &mut opt, 0, 4, kept.then_some(&mut ctx));
        model
    };
    assert_eq!(two_plus_two(false), four(false), "2 + 2 steps equal 4");
    // A kept context made anew draws the first steps' masks again on resuming.
    assert_ne!(two_plus_two(true), four(true));
    // The masks matter: another seed of the steps' contexts trains differently.
    let (mut other, mut opt) = (fresh(), new_opt());
    let mut ctx = Context::for_step(12, 0);
    dropout_steps(&mut other, &mut opt, 0, 1, Some(&mut ctx));
    let (mut same, mut opt) = (fresh(), new_opt());
    dropout_steps(&mut same, &mut opt, 0, 1, None);
    assert_ne!(other, same);
}

#[test]
fn sgd_momentum_resumes_bit_for_bit_after_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sgd.safetensors");
    let fresh = || Cnn::init(&mut StdRng::seed_from_u64(8));
    let new_opt = || {
        Sgd::<Cnn, f64>::new(0.05)
            .and_then(|o| o.with_momentum(0.9))
            .unwrap()
    };
    let sgd_steps = |model: &mut Cnn, opt: &mut Sgd<Cnn, f64>, from: usize, steps: usize| {
        let mut work = Default::default();
        let mut grads = model.zero_grads();
        for s in from..from + steps {
            grads.zero();
            pass(model, &mut work, &mut grads, s);
            opt.step(model, &grads);
        }
    };
    let (mut straight, mut opt) = (fresh(), new_opt());
    sgd_steps(&mut straight, &mut opt, 0, 4);
    let (mut resumed, mut opt1) = (fresh(), new_opt());
    sgd_steps(&mut resumed, &mut opt1, 0, 2);
    io::save_optimizer(&opt1, &path).unwrap();
    let mut opt2 = new_opt();
    io::load_optimizer(&mut opt2, &resumed, &path).unwrap();
    sgd_steps(&mut resumed, &mut opt2, 2, 2);
    assert_eq!(resumed, straight);
}

#[test]
fn a_file_without_a_step_count_is_not_an_optimizer_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let model = Cnn::init(&mut StdRng::seed_from_u64(9));
    io::save(&model, &path).unwrap();
    let mut opt = Adam::<Cnn, f64>::new(1e-3).unwrap();
    let err = io::load_optimizer(&mut opt, &model, &path).unwrap_err();
    assert!(err.to_string().contains("no optimizer step count"), "{err}");
    assert_eq!(opt.steps(), 0);
    assert!(opt.moments().is_none(), "unchanged after the error");
}

#[test]
fn optimizer_settings_are_checked_where_they_are_made() {
    type M = Affine<U2, U1>;
    let msg = |r: Result<Adam<M>, shaped::SettingError>| r.unwrap_err().to_string();
    assert_eq!(
        msg(Adam::new(f32::NAN)),
        "invalid optimizer setting lr = NaN: expected a finite number ≥ 0"
    );
    assert_eq!(
        msg(Adam::new(-1e-3)),
        "invalid optimizer setting lr = -0.0010000000474974513: expected a finite number ≥ 0"
    );
    assert!(Adam::<M>::new(1e-3).unwrap().with_betas(-0.1, 0.9).is_err());
    assert!(Adam::<M>::new(1e-3).unwrap().with_eps(-1e-8).is_err());
    assert!(Adam::<M>::new(1e-3)
        .unwrap()
        .with_weight_decay(f32::INFINITY)
        .is_err());
    assert!(Sgd::<M>::new(0.1).unwrap().with_momentum(-0.5).is_err());
    assert!(Sgd::<M>::new(0.1)
        .unwrap()
        .with_weight_decay(f32::NAN)
        .is_err());
    let mut sgd = Sgd::<M>::new(0.1).unwrap();
    assert!(sgd.set_lr(-1.0).is_err());
    assert_eq!(sgd.lr(), 0.1, "a refused setting leaves the old one");
}

#[test]
fn clipping_bounds_the_global_norm() {
    let mut model = Cnn::init(&mut StdRng::seed_from_u64(10));
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    pass(&mut model, &mut work, &mut grads, 4);
    grads.scale(100.0);
    let before = grads.global_norm();
    assert_eq!(grads.clip_global_norm(1.0), before);
    assert!((grads.global_norm() - 1.0).abs() < 1e-5);
    assert_eq!(
        grads.clip_global_norm(2.0),
        grads.global_norm(),
        "no-op below the bound"
    );
}

#[test]
fn the_training_pass_equals_the_stateless_layer_api() {
    let mut layer = Affine::<U5, U3, f64>::init(&mut StdRng::seed_from_u64(11));
    let x = Tensor::<(U4, U5), f64>::from_fn(|i| (i[0] as f64 - i[1] as f64) * 0.3);
    let dy = Tensor::<(U4, U3), f64>::from_fn(|i| (i[0] * 3 + i[1]) as f64 * 0.1 - 0.5);
    let (y, dx, grads) = train_pass(&mut layer, &x, |_| dy.clone());
    assert_eq!(y, layer.forward(&x));
    let (dx2, grads2) = layer.backward(&x, &dy);
    assert_eq!((dx, grads), (dx2, grads2));
}

#[test]
fn training_gives_the_same_parameters_whatever_the_number_of_threads() {
    // Large enough that the convolution and the products run in parallel (batch 128: the
    // convolution's passes and the 128 × 512 → 64 products are above their cutoffs).
    type Big = (
        Conv<U1, U32, U3, U3, U1, U1>,
        ReLU,
        MaxPool2d<U2>,
        Flatten,
        Affine<U512, U64>,
        ReLU,
        Affine<U64, U10>,
    );
    let train = |threads: usize| {
        shaped::set_num_threads(threads);
        let params = {
            let mut model = Big::init(&mut StdRng::seed_from_u64(12));
            let mut opt = Adam::new(1e-3).unwrap();
            let mut work = Default::default();
            let mut grads = model.zero_grads();
            let mut dlogits = Tensor::default();
            for step in 0..30 {
                let x = Tensor::<(Dyn, U1, U8, U8)>::from_vec(
                    (0..128 * 64)
                        .map(|i| (((i + step * 977) * 7919) % 29) as f32 / 29.0)
                        .collect(),
                )
                .unwrap();
                let labels: Vec<usize> = (0..128).map(|i| (i * 7 + step) % 10).collect();
                let logits = model.forward_train(&x, &mut work, &mut Context::new(0));
                softmax_cross_entropy_into(logits, &labels, &mut dlogits).unwrap();
                grads.zero();
                model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
                opt.step(&mut model, &grads);
            }
            model
        };
        shaped::set_num_threads(0);
        params
    };
    let one = train(1);
    for threads in [2, 4] {
        let other = train(threads);
        let differ = (0..one.count())
            .map(|i| {
                one.tensor(i)
                    .iter()
                    .zip(other.tensor(i))
                    .filter(|(a, b)| a.to_bits() != b.to_bits())
                    .count()
            })
            .sum::<usize>();
        assert_eq!(
            differ, 0,
            "{differ} parameters differ with {threads} threads"
        );
    }
}

#[test]
fn an_optimizer_saved_before_its_first_step_loads_back_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.safetensors");
    let model = Cnn::init(&mut StdRng::seed_from_u64(13));
    let adam = Adam::<Cnn, f64>::new(1e-3).unwrap();
    io::save_optimizer(&adam, &path).unwrap();
    // Loaded into one that has taken steps: back to no state and step 0.
    let mut used = Adam::<Cnn, f64>::new(1e-3).unwrap();
    adam_steps(&mut model.clone(), &mut used, 0, 1);
    io::load_optimizer(&mut used, &model, &path).unwrap();
    assert_eq!((used.steps(), used.moments().is_none()), (0, true));
    let sgd = Sgd::<Cnn, f64>::new(0.1)
        .and_then(|o| o.with_momentum(0.9))
        .unwrap();
    io::save_optimizer(&sgd, &path).unwrap();
    let mut again = sgd.clone();
    io::load_optimizer(&mut again, &model, &path).unwrap();
    assert!(again.velocity().is_none());
}
