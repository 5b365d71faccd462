//! Models end to end: pooling, flattening, losses, optimizers, whole-model gradients and the
//! safetensors round trip, against PyTorch float64 golden values (tests/golden/models.txt,
//! made by tests/golden/make_golden.py, torch version in its first line) and finite
//! differences.

mod common;
use common::{dot, finite_diff, golden, rel_err, train_pass, Record};
use rand::{rngs::StdRng, SeedableRng};
use shaped::io::{self, LoadError};
use shaped::{mse, softmax_cross_entropy, typenum::*, Adam, Affine, AffineGrads, AvgPool2d};
use shaped::{Conv, Flatten, Init, LabelError, MaxPool2d, Module, ReLU, Sgd, Tensor, Tensors};
use std::collections::HashMap;
use std::sync::OnceLock;

fn g() -> &'static HashMap<String, Record> {
    static G: OnceLock<HashMap<String, Record>> = OnceLock::new();
    G.get_or_init(|| golden("models.txt"))
}

fn v(key: &str) -> &'static [f64] {
    &g()[key].values
}

fn t<S: shaped::Shape>(key: &str) -> Tensor<S, f64> {
    Tensor::from_vec(v(key).to_vec()).unwrap()
}

fn close(got: &[f64], key: &str, tol: f64) {
    let e = rel_err(got, v(key));
    assert!(e < tol, "{key}: relative error {e:e}");
}

macro_rules! pool_case {
    ($test:ident, $tag:literal, $layer:ty, $n:ty, $c:ty, $h:ty, $w:ty) => {
        #[test]
        fn $test() {
            let layer = <$layer>::new();
            let x = t::<($n, $c, $h, $w)>(concat!($tag, ".x"));
            let mut layer = layer;
            let (y, dx, ()) = train_pass(&mut layer, &x, |y| {
                let mut dy = y.clone();
                dy.as_mut_slice().copy_from_slice(v(concat!($tag, ".dy")));
                dy
            });
            close(y.as_slice(), concat!($tag, ".y"), 1e-12);
            let mut dy = y.clone();
            dy.as_mut_slice().copy_from_slice(v(concat!($tag, ".dy")));
            close(dx.as_slice(), concat!($tag, ".dx"), 1e-12);
            assert_eq!(layer.infer(&x), y);

            // Finite differences of L = Σ y ∘ dy (max pooling: inputs are distinct, so the
            // maximum does not switch within the step).
            let fx = finite_diff(x.as_slice(), 1e-6, |p| {
                let y =
                    layer.infer(&Tensor::<($n, $c, $h, $w), f64>::from_vec(p.to_vec()).unwrap());
                dot(y.as_slice(), dy.as_slice())
            });
            assert!(rel_err(dx.as_slice(), &fx) < 1e-6);
        }
    };
}

pool_case!(
    max_pool_k2_s2_matches_pytorch,
    "max_k2s2",
    MaxPool2d<U2>,
    U2,
    U3,
    U6,
    U6
);
pool_case!(max_pool_overlapping_k3_s2_matches_pytorch, "max_k3s2", MaxPool2d<U3, U2>, U1, U2, U7, U7);
pool_case!(
    avg_pool_k2_s2_matches_pytorch,
    "avg_k2s2",
    AvgPool2d<U2>,
    U2,
    U3,
    U6,
    U6
);
pool_case!(avg_pool_k3_s1_matches_pytorch, "avg_k3s1", AvgPool2d<U3, U1>, U1, U2, U5, U6);

#[test]
fn cross_entropy_matches_pytorch_and_finite_differences() {
    let z = t::<(U4, U5)>("ce.logits");
    let labels: Vec<usize> = v("ce.labels").iter().map(|&l| l as usize).collect();
    let (loss, grad) = softmax_cross_entropy(&z, &labels).unwrap();
    close(&[loss], "ce.loss", 1e-12);
    close(grad.as_slice(), "ce.grad", 1e-12);
    let fz = finite_diff(z.as_slice(), 1e-6, |p| {
        softmax_cross_entropy(
            &Tensor::<(U4, U5), f64>::from_vec(p.to_vec()).unwrap(),
            &labels,
        )
        .unwrap()
        .0
    });
    assert!(rel_err(grad.as_slice(), &fz) < 1e-6);
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let z = Tensor::<(U1, U3), f32>::from_vec(vec![1000.0, -1000.0, 0.0]).unwrap();
    let (loss, grad) = softmax_cross_entropy(&z, &[0]).unwrap();
    assert_eq!(loss, 0.0);
    assert!(grad.as_slice().iter().all(|g| g.is_finite()));
}

#[test]
fn labels_out_of_range_or_miscounted_are_errors() {
    let z = Tensor::<(U2, U3), f64>::zeros();
    let err = softmax_cross_entropy(&z, &[0, 3]).unwrap_err();
    assert_eq!(
        err,
        LabelError::OutOfRange {
            index: 1,
            label: 3,
            classes: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "label 3 at position 1 is out of range: expected a class in 0..3"
    );
    let err = softmax_cross_entropy(&z, &[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected 2 labels (the batch size), found 1"
    );
}

#[test]
fn mse_matches_pytorch_and_finite_differences() {
    let p = t::<(U3, U4)>("mse.pred");
    let target = t::<(U3, U4)>("mse.target");
    let (loss, grad) = mse(&p, &target);
    close(&[loss], "mse.loss", 1e-12);
    close(grad.as_slice(), "mse.grad", 1e-12);
    let fp = finite_diff(p.as_slice(), 1e-6, |q| {
        mse(
            &Tensor::<(U3, U4), f64>::from_vec(q.to_vec()).unwrap(),
            &target,
        )
        .0
    });
    assert!(rel_err(grad.as_slice(), &fp) < 1e-6);
}

fn opt_layer() -> Affine<U3, U2, f64> {
    Affine::new(t("opt.w0"), t("opt.b0"))
}

fn opt_grads(i: usize) -> AffineGrads<U3, U2, f64> {
    AffineGrads {
        weight: t(&format!("opt.gw{i}")),
        bias: t(&format!("opt.gb{i}")),
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay_matches_pytorch() {
    let mut layer = opt_layer();
    let mut opt = Sgd::new(0.1)
        .and_then(|o| o.with_momentum(0.9))
        .and_then(|o| o.with_weight_decay(0.01))
        .unwrap();
    for i in 0..3 {
        opt.step(&mut layer, &opt_grads(i));
        close(layer.weight.as_slice(), &format!("sgd.w{i}"), 1e-12);
        close(layer.bias.as_slice(), &format!("sgd.b{i}"), 1e-12);
    }
}

#[test]
fn adam_matches_pytorch() {
    let mut layer = opt_layer();
    let mut opt = Adam::new(0.01)
        .and_then(|o| o.with_weight_decay(0.001))
        .unwrap();
    for i in 0..3 {
        opt.step(&mut layer, &opt_grads(i));
        close(layer.weight.as_slice(), &format!("adam.w{i}"), 1e-12);
        close(layer.bias.as_slice(), &format!("adam.b{i}"), 1e-12);
    }
}

/// The model of `sequential()` in tests/golden/make_golden.py, layer for layer.
type Cnn = (
    Conv<U1, U4, U3, U3, U1, U1, f64>,
    ReLU,
    MaxPool2d<U2>,
    Flatten,
    Affine<U64, U8, f64>,
    ReLU,
    Affine<U8, U3, f64>,
);

fn golden_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[test]
fn pytorch_file_loads_and_whole_model_gradients_match_pytorch() {
    let mut model = Cnn::init(&mut StdRng::seed_from_u64(0));
    io::load(&mut model, golden_file("torch_cnn.safetensors")).unwrap();
    let x = t::<(U2, U1, U8, U8)>("model.x");
    let mut loss = 0.0;
    let (logits, _, grads) = train_pass(&mut model, &x, |logits| {
        let (l, dlogits) = softmax_cross_entropy(logits, &[2, 0]).unwrap();
        loss = l;
        dlogits
    });
    close(logits.as_slice(), "model.logits", 1e-12);
    close(&[loss], "model.loss", 1e-12);
    // The gradients come back in a value shaped like the model: (conv, (), (), (), affine, (), affine).
    close(grads.0.weight.as_slice(), "model.grad.0.weight", 1e-10);
    close(grads.0.bias.as_slice(), "model.grad.0.bias", 1e-10);
    close(grads.4.weight.as_slice(), "model.grad.4.weight", 1e-10);
    close(grads.4.bias.as_slice(), "model.grad.4.bias", 1e-10);
    close(grads.6.weight.as_slice(), "model.grad.6.weight", 1e-10);
    close(grads.6.bias.as_slice(), "model.grad.6.bias", 1e-10);
}

#[test]
fn shaped_file_loads_into_pytorch() {
    let model = Cnn::init(&mut StdRng::seed_from_u64(42));
    let bytes = io::to_bytes(&model).unwrap();
    let path = golden_file("shaped_cnn.safetensors");
    if std::env::var_os("SHAPED_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    // The committed file is exactly what shaped writes for this model...
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "{}", path.display());
    // ...and PyTorch, loading it into the same nn.Sequential, computes the same logits.
    let logits = model.infer(&t::<(U2, U1, U8, U8)>("model.x"));
    close(logits.as_slice(), "model.shaped_file_logits", 1e-12);
}

#[test]
fn parameter_names_are_pytorchs() {
    let model = Cnn::init(&mut StdRng::seed_from_u64(0));
    let mut names = Vec::new();
    model.visit("", &mut |name, dims, _| {
        names.push(format!("{name} {dims:?}"))
    });
    assert_eq!(
        names,
        [
            "0.weight [4, 1, 3, 3]",
            "0.bias [4]",
            "4.weight [8, 64]",
            "4.bias [8]",
            "6.weight [3, 8]",
            "6.bias [3]"
        ]
    );
}

#[test]
fn bad_files_are_errors_naming_the_tensor() {
    let good = std::fs::read(golden_file("torch_cnn.safetensors")).unwrap();
    let fresh = || Cnn::init(&mut StdRng::seed_from_u64(0));

    // Another shape: the first Affine layer declared with 16 outputs.
    type Wide = (
        Conv<U1, U4, U3, U3, U1, U1, f64>,
        ReLU,
        MaxPool2d<U2>,
        Flatten,
        Affine<U64, U16, f64>,
        ReLU,
        Affine<U16, U3, f64>,
    );
    let mut wide = Wide::init(&mut StdRng::seed_from_u64(0));
    let before = wide.clone();
    let err = io::from_bytes(&mut wide, &good).unwrap_err();
    assert!(matches!(err, LoadError::Shape { ref name, .. } if name == "4.weight"));
    assert_eq!(
        err.to_string(),
        "tensor \"4.weight\" has shape (8, 64), expected (16, 64)"
    );
    assert_eq!(wide, before, "a failed load leaves the model unchanged");

    // Another dtype: an f32 model from an f64 file.
    let mut single = <(Conv<U1, U4, U3, U3, U1, U1, f32>,)>::init(&mut StdRng::seed_from_u64(0));
    let err = io::from_bytes(&mut single, &good).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor \"0.weight\" has dtype F64, expected F32"
    );
    let mut conv = <Conv<U1, U4, U3, U3, U1, U1, f32>>::init(&mut StdRng::seed_from_u64(0));
    let err = io::from_bytes(&mut conv, &io::to_bytes(&fresh().0).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor \"weight\" has dtype F64, expected F32"
    );

    // A missing tensor: a file of the first layer only.
    let first_only = io::to_bytes(&(fresh().0,)).unwrap();
    let err = io::from_bytes(&mut fresh(), &first_only).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor \"4.weight\" is missing from the file"
    );

    // Corrupt bytes: truncated, and not a safetensors file at all.
    let err = io::from_bytes(&mut fresh(), &good[..good.len() / 2]).unwrap_err();
    assert!(matches!(err, LoadError::Corrupt(_)), "{err}");
    let err = io::from_bytes(&mut fresh(), b"definitely not safetensors").unwrap_err();
    assert!(
        err.to_string().starts_with("not a valid safetensors file"),
        "{err}"
    );

    // A file that is not there.
    let err = io::load(&mut fresh(), "/nonexistent/model.safetensors").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/model.safetensors: "),
        "{err}"
    );
}

#[test]
fn init_is_seeded_and_within_pytorchs_bounds() {
    let a = Cnn::init(&mut StdRng::seed_from_u64(3));
    let b = Cnn::init(&mut StdRng::seed_from_u64(3));
    assert_eq!(io::to_bytes(&a).unwrap(), io::to_bytes(&b).unwrap());
    // Bounds 1/√fan_in: conv 1/√9, first affine 1/√64.
    let conv_max =
        a.0.weight
            .as_slice()
            .iter()
            .fold(0.0f64, |m, w| m.max(w.abs()));
    assert!(conv_max <= 1.0 / 3.0 && conv_max > 0.25, "{conv_max}");
    let aff_max =
        a.4.weight
            .as_slice()
            .iter()
            .fold(0.0f64, |m, w| m.max(w.abs()));
    assert!(aff_max <= 0.125 && aff_max > 0.1, "{aff_max}");
    let mean = a.4.weight.as_slice().iter().sum::<f64>() / 512.0;
    assert!(mean.abs() < 0.01, "{mean}");
}

/// A model assembled in generic code from two layers, trained one step and evaluated: the
/// layers' own `Module` bounds are all a tuple of them needs (the traits of the layers'
/// indices, `Layer0`, `Layer1`, through which a tuple requires its layers, hold for every
/// layer).
fn train_and_infer<A, B, X>(first: A, second: B, x: &X, dy: &B::Out) -> (B::Out, B::Out)
where
    A: Module<f64, X>,
    B: Module<f64, A::Out>,
    B::Out: Clone,
{
    use shaped::{Context, Params};
    let mut model = (first, second);
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let y = model
        .forward_train(x, &mut work, &mut Context::new(0))
        .clone();
    model.backward_train(x, dy, &mut work, &mut grads, false);
    (y, model.infer(x))
}

#[test]
fn a_model_of_generic_layers_needs_only_their_module_bounds() {
    let layer = Affine::<U2, U2, f64>::new(
        Tensor::from_vec(vec![1.0, 0.0, 0.0, -1.0]).unwrap(),
        Tensor::zeros(),
    );
    let x = Tensor::<(U1, U2), f64>::from_vec(vec![3.0, 4.0]).unwrap();
    let dy = Tensor::<(U1, U2), f64>::full(1.0);
    let (trained, inferred) = train_and_infer(layer, ReLU, &x, &dy);
    assert_eq!(trained.as_slice(), &[3.0, 0.0]);
    assert_eq!(inferred.as_slice(), &[3.0, 0.0]);
}
