//! Batch normalisation: the training pass, its gradients, the running statistics and the
//! evaluation pass against PyTorch float64 golden values (tests/golden/batchnorm.txt, made by
//! tests/golden/make_golden.py, torch version in its first line) and finite differences; a
//! `Dyn` batch; a batch too small for batch statistics; and the running statistics saved and
//! loaded as PyTorch's buffers (`running_mean`, `running_var`, `num_batches_tracked` as int64),
//! in a model with a residual block, both ways between shaped and PyTorch.

mod common;
use common::{dot, finite_diff, golden, rel_err, train_pass, Record};
use rand::{rngs::StdRng, SeedableRng};
use shaped::io::{self, LoadError};
use shaped::{softmax_cross_entropy, typenum::*, Affine, BatchNorm1d, BatchNorm2d, Buffer};
use shaped::{BufferMut, Context, Conv, Dyn, Flatten, Gradients, Init, MaxPool2d, Module};
use shaped::{ReLU, Residual, Sgd, Shape, Tensor, Tensors};
use std::collections::HashMap;
use std::sync::OnceLock;

fn g() -> &'static HashMap<String, Record> {
    static G: OnceLock<HashMap<String, Record>> = OnceLock::new();
    G.get_or_init(|| golden("batchnorm.txt"))
}

fn v(key: &str) -> &'static [f64] {
    &g()[key].values
}

fn t<S: Shape>(key: &str) -> Tensor<S, f64> {
    Tensor::from_vec(v(key).to_vec()).unwrap()
}

fn close(got: &[f64], key: &str, tol: f64) {
    let e = rel_err(got, v(key));
    assert!(e < tol, "{key}: relative error {e:e}");
}

/// Every golden record of one layer: the training pass and its gradients (stateless and
/// through `Module`, which must agree bit for bit), the running statistics after one and two
/// training passes, then the evaluation pass.
macro_rules! golden_case {
    ($test:ident, $tag:literal, $layer:ty, $shape:ty) => {
        #[test]
        fn $test() {
            let key = |k: &str| format!("{}.{k}", $tag);
            let mut bn = <$layer>::new();
            bn.weight = t(&key("w"));
            bn.bias = t(&key("b"));
            let fresh = bn.clone();
            let (x1, x2, dy) = (
                t::<$shape>(&key("x1")),
                t::<$shape>(&key("x2")),
                t::<$shape>(&key("dy")),
            );

            let y = bn.forward_training(&x1);
            close(y.as_slice(), &key("y_train"), 1e-12);
            let (dx, grads) = bn.backward(&x1, &dy);
            close(dx.as_slice(), &key("dx"), 1e-12);
            close(grads.weight.as_slice(), &key("dw"), 1e-12);
            close(grads.bias.as_slice(), &key("db"), 1e-12);
            close(bn.running_mean.as_slice(), &key("running_mean1"), 1e-12);
            close(bn.running_var.as_slice(), &key("running_var1"), 1e-12);
            assert_eq!(bn.num_batches_tracked, 1);

            // The training contract gives the same values.
            let mut module = fresh.clone();
            let (my, mdx, mgrads) = train_pass(&mut module, &x1, |_| dy.clone());
            assert_eq!((my, mdx, mgrads), (y, dx, grads));
            assert_eq!(module, bn, "the same running statistics");

            let _ = bn.forward_training(&x2);
            close(bn.running_mean.as_slice(), &key("running_mean2"), 1e-12);
            close(bn.running_var.as_slice(), &key("running_var2"), 1e-12);
            assert_eq!(bn.num_batches_tracked, 2);

            let before = bn.clone();
            let y_eval = bn.forward(&x1);
            close(y_eval.as_slice(), &key("y_eval"), 1e-12);
            assert_eq!(bn.infer(&x1), y_eval);
            let (dx, grads) = bn.backward_eval(&x1, &dy);
            close(dx.as_slice(), &key("dx_eval"), 1e-12);
            close(grads.weight.as_slice(), &key("dw_eval"), 1e-12);
            close(grads.bias.as_slice(), &key("db_eval"), 1e-12);
            assert_eq!(
                bn, before,
                "evaluation leaves the running statistics as they are"
            );
        }
    };
}

golden_case!(batchnorm2d_matches_pytorch, "bn2d", BatchNorm2d<U3, f64>, (U4, U3, U5, U5));
golden_case!(batchnorm1d_matches_pytorch, "bn1d", BatchNorm1d<U4, f64>, (U6, U4));
golden_case!(
    batchnorm1d_on_sequences_matches_pytorch,
    "bn1d_ncl",
    BatchNorm1d<U3, f64>,
    (U5, U3, U4)
);
golden_case!(
    batchnorm2d_of_a_single_image_matches_pytorch,
    "bn2d_n1",
    BatchNorm2d<U2, f64>,
    (U1, U2, U3, U3)
);

/// The training pass's loss `L = Σ bn(x) ∘ g` as a function of `x`, `γ` and `β` (a fresh copy
/// of the layer each time: the pass moves the running statistics).
fn fd_check<S: Shape, L>(bn: &L, x: &Tensor<S, f64>, g: &[f64])
where
    L: Module<f64, Tensor<S, f64>, Out = Tensor<S, f64>> + Clone,
    L::Grads: Tensors<f64>,
{
    let loss = |bn: &L, x: &Tensor<S, f64>| {
        let mut bn = bn.clone();
        let mut work = Default::default();
        dot(
            bn.forward_train(x, &mut work, &mut Context::new(0))
                .as_slice(),
            g,
        )
    };
    let mut bn0 = bn.clone();
    let (_, dx, grads) = train_pass(&mut bn0, x, |y| {
        Tensor::from_shape_vec(y.shape(), g.to_vec()).unwrap()
    });
    let h = 1e-5;
    let fx = finite_diff(x.as_slice(), h, |p| {
        loss(bn, &Tensor::from_shape_vec(x.shape(), p.to_vec()).unwrap())
    });
    let e = rel_err(dx.as_slice(), &fx);
    assert!(e < 1e-6, "dx: {e:e}");
    for i in 0..bn.count() {
        let fp = finite_diff(bn.tensor(i), h, |p| {
            let mut b = bn.clone();
            b.tensor_mut(i).copy_from_slice(p);
            loss(&b, x)
        });
        let e = rel_err(grads.tensor(i), &fp);
        assert!(e < 1e-6, "parameter {i}: {e:e}");
    }
    // The check can fail: the gradient of a plain normalisation (no batch statistics in it)
    // is far off.
    let plain: Vec<f64> = g.iter().map(|g| g * bn.tensor(0)[0]).collect();
    assert!(rel_err(&plain, &fx) > 1e-2);
}

#[test]
fn batchnorm2d_training_backward_matches_finite_differences() {
    let mut bn = BatchNorm2d::<U3, f64>::new();
    bn.weight = Tensor::from_vec(vec![0.7, -1.3, 2.0]).unwrap();
    bn.bias = Tensor::from_vec(vec![0.1, 0.0, -0.4]).unwrap();
    let x = Tensor::<(U2, U3, U3, U4), f64>::from_fn(|i| {
        ((i[0] * 37 + i[1] * 11 + i[2] * 5 + i[3] * 3) as f64 * 0.61).sin() * 2.0 + 0.3
    });
    let g: Vec<f64> = (0..72).map(|i| (i as f64 * 0.37).cos()).collect();
    fd_check(&bn, &x, &g);
}

#[test]
fn batchnorm1d_training_backward_matches_finite_differences() {
    let mut bn = BatchNorm1d::<U5, f64>::new();
    bn.weight = Tensor::from_fn(|i| 0.5 + i[0] as f64 * 0.3);
    bn.bias = Tensor::from_fn(|i| i[0] as f64 * 0.1);
    let x = Tensor::<(U7, U5), f64>::from_fn(|i| ((i[0] * 5 + i[1]) as f64 * 0.83).cos() * 3.0);
    let g: Vec<f64> = (0..35).map(|i| (i as f64 * 0.53).sin()).collect();
    fd_check(&bn, &x, &g);
}

#[test]
fn batchnorm_evaluation_backward_matches_finite_differences() {
    let mut bn = BatchNorm2d::<U3, f64>::new();
    bn.weight = Tensor::from_vec(vec![0.7, -1.3, 2.0]).unwrap();
    bn.bias = Tensor::from_vec(vec![0.1, 0.0, -0.4]).unwrap();
    bn.running_mean = Tensor::from_vec(vec![0.2, -0.5, 1.0]).unwrap();
    bn.running_var = Tensor::from_vec(vec![1.5, 0.3, 2.2]).unwrap();
    let x = Tensor::<(U2, U3, U3, U4), f64>::from_fn(|i| {
        ((i[0] * 37 + i[1] * 11 + i[2] * 5 + i[3] * 3) as f64 * 0.61).sin() * 2.0 + 0.3
    });
    let g: Vec<f64> = (0..72).map(|i| (i as f64 * 0.37).cos()).collect();
    let dy = Tensor::<(U2, U3, U3, U4), f64>::from_vec(g.clone()).unwrap();
    let (dx, grads) = bn.backward_eval(&x, &dy);
    // L = Σ g·y(x, γ, β), central differences in f64.
    let loss = |bn: &BatchNorm2d<U3, f64>, x: &Tensor<(U2, U3, U3, U4), f64>| -> f64 {
        bn.forward(x)
            .as_slice()
            .iter()
            .zip(&g)
            .map(|(y, g)| y * g)
            .sum()
    };
    let h = 1e-6;
    let mut xp = x.clone();
    for i in 0..72 {
        let v = x.as_slice()[i];
        xp.as_mut_slice()[i] = v + h;
        let up = loss(&bn, &xp);
        xp.as_mut_slice()[i] = v - h;
        let down = loss(&bn, &xp);
        xp.as_mut_slice()[i] = v;
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - dx.as_slice()[i]).abs() < 1e-7,
            "dx[{i}]: {fd} vs {}",
            dx.as_slice()[i]
        );
    }
    for ch in 0..3 {
        for (which, analytic) in [
            (0, grads.weight.as_slice()[ch]),
            (1, grads.bias.as_slice()[ch]),
        ] {
            let mut p = bn.clone();
            let at = |p: &mut BatchNorm2d<U3, f64>, d: f64| {
                let t = if which == 0 {
                    &mut p.weight
                } else {
                    &mut p.bias
                };
                t.as_mut_slice()[ch] += d;
            };
            at(&mut p, h);
            let up = loss(&p, &x);
            at(&mut p, -2.0 * h);
            let down = loss(&p, &x);
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - analytic).abs() < 1e-7,
                "param {which} ch {ch}: {fd} vs {analytic}"
            );
        }
    }
}

#[test]
fn a_dyn_batch_equals_the_static_batch() {
    let x = Tensor::<(U4, U3, U5, U5), f64>::from_fn(|i| {
        ((i[0] + 2 * i[1] + i[2] * i[3]) as f64).sin()
    });
    let xd: Tensor<(Dyn, U3, U5, U5), f64> = x.clone().into_dyn_batch();
    let dy = x.map(|v| v * 0.5 - 0.1);
    let dyd: Tensor<(Dyn, U3, U5, U5), f64> = dy.clone().into_dyn_batch();
    let (mut a, mut b) = (BatchNorm2d::<U3, f64>::new(), BatchNorm2d::<U3, f64>::new());
    let (y, dx, grads) = train_pass(&mut a, &x, |_| dy.clone());
    let (yd, dxd, gradsd) = train_pass(&mut b, &xd, |_| dyd.clone());
    assert_eq!(y.as_slice(), yd.as_slice());
    assert_eq!(dx.as_slice(), dxd.as_slice());
    assert_eq!(grads, gradsd);
    assert_eq!(a, b);
    assert_eq!(a.infer(&x).as_slice(), b.infer(&xd).as_slice());

    let v = Tensor::<(U6, U4), f64>::from_fn(|i| (i[0] * 4 + i[1]) as f64 * 0.1);
    let vd: Tensor<(Dyn, U4), f64> = v.clone().into_dyn_batch();
    let (mut a, mut b) = (BatchNorm1d::<U4, f64>::new(), BatchNorm1d::<U4, f64>::new());
    assert_eq!(
        a.forward_training(&v).as_slice(),
        b.forward_training(&vd).as_slice()
    );
    assert_eq!(a, b);
}

#[test]
#[should_panic(
    expected = "BatchNorm in training needs more than 1 value per channel (N·H·W, or N for BatchNorm1d), found 1 in an input of shape (1, 4)"
)]
fn a_batch_of_one_vector_in_training_panics_in_words() {
    let mut bn = BatchNorm1d::<U4>::new();
    bn.forward_training(&Tensor::<(U1, U4)>::full(1.0));
}

#[test]
#[should_panic(expected = "found 1 in an input of shape (1, 2, 1, 1)")]
fn a_single_pixel_of_a_single_image_in_training_panics() {
    // N·H·W = 1: the unbiased variance would divide by zero.
    let mut bn = BatchNorm2d::<U2>::new();
    let mut work = Default::default();
    bn.forward_train(
        &Tensor::<(U1, U2, U1, U1)>::full(1.0),
        &mut work,
        &mut Context::new(0),
    );
}

#[test]
fn a_runtime_batch_of_one_panics_and_evaluation_of_one_works() {
    let mut bn = BatchNorm1d::<U2, f64>::new();
    let one = Tensor::<(Dyn, U2), f64>::from_vec(vec![3.0, -1.0]).unwrap();
    assert_eq!(
        bn.forward(&one).dims(),
        [1, 2],
        "evaluation needs no batch statistics"
    );
    let before = bn.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        bn.forward_training(&one);
    }));
    let message = *panicked.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("Expected more than 1 value per channel when training"));
    assert_eq!(bn, before, "nothing moved");
    let empty = Tensor::<(Dyn, U2), f64>::from_vec(vec![]).unwrap();
    assert!(std::panic::catch_unwind(|| bn.backward(&empty, &empty)).is_err());
}

#[test]
#[should_panic(expected = "shape mismatch in BatchNorm channels: expected 3 channels (C), found 4")]
fn channels_of_runtime_size_are_checked() {
    let bn = BatchNorm2d::<U3>::new();
    let x = Tensor::<(U2, Dyn, U2, U2)>::from_vec(vec![0.0; 32]).unwrap();
    bn.forward(&x);
}

#[test]
#[should_panic(
    expected = "shape mismatch in BatchNorm grad_output: expected (4, 3) (the input's shape), found (2, 3)"
)]
fn a_gradient_of_another_runtime_batch_panics() {
    let bn = BatchNorm1d::<U3>::new();
    let x = Tensor::<(Dyn, U3)>::from_vec(vec![1.0; 12]).unwrap();
    let dy = Tensor::<(Dyn, U3)>::from_vec(vec![1.0; 6]).unwrap();
    bn.backward(&x, &dy);
}

#[test]
fn running_statistics_are_buffers_not_trained_parameters() {
    let mut bn = BatchNorm2d::<U2, f64>::new();
    let x = Tensor::<(U3, U2, U2, U2), f64>::from_fn(|i| {
        (i[0] * 8 + i[1] * 4 + i[2] * 2 + i[3]) as f64
    });
    let (_, _, grads) = train_pass(&mut bn, &x, |y| y.map(|v| v * v));
    assert_eq!((bn.count(), grads.count()), (2, 2));
    let mut names = Vec::new();
    bn.visit("", &mut |name, dims, _| {
        names.push(format!("{name} {dims:?}"))
    });
    bn.visit_buffers("", &mut |name, dims, values| {
        let kind = match values {
            Buffer::Float(_) => "float",
            Buffer::Int64(v) => {
                assert_eq!(v, [1]);
                "int64"
            }
        };
        names.push(format!("{name} {dims:?} {kind}"));
    });
    assert_eq!(
        names,
        [
            "weight [2]",
            "bias [2]",
            "running_mean [2] float",
            "running_var [2] float",
            "num_batches_tracked [] int64"
        ]
    );
    // An optimizer steps the parameters alone.
    let stats = (bn.running_mean.clone(), bn.running_var.clone());
    let mut scaled = grads.clone();
    scaled.scale(2.0);
    Sgd::new(0.1).unwrap().step(&mut bn, &scaled);
    assert_eq!((bn.running_mean.clone(), bn.running_var.clone()), stats);
    // (The weight's gradient Σ dy·x̂ = Σ x̂³ is 0 here, each channel's values being symmetric
    // about their mean; the bias's, Σ x̂², is not.)
    assert!(grads.weight.as_slice().iter().all(|g| g.abs() < 1e-12));
    // 0 − 0.1 · 2 · Σ x̂², with Σ x̂² = 12 · var / (var + ε) just under 12.
    assert!(bn.bias.as_slice().iter().all(|b| (b + 2.4).abs() < 1e-5));
    assert!(bn.weight.as_slice().iter().all(|w| (w - 1.0).abs() < 1e-12));
}

/// The model of `bn_sequential()` in make_golden.py.
type BnNet = (
    Conv<U1, U4, U3, U3, U1, U1, f64>,
    BatchNorm2d<U4, f64>,
    ReLU,
    Residual<(
        Conv<U4, U4, U3, U3, U1, U1, f64>,
        BatchNorm2d<U4, f64>,
        ReLU,
        Conv<U4, U4, U3, U3, U1, U1, f64>,
        BatchNorm2d<U4, f64>,
    )>,
    MaxPool2d<U2>,
    Flatten,
    Affine<U64, U8, f64>,
    BatchNorm1d<U8, f64>,
    ReLU,
    Affine<U8, U3, f64>,
);

fn golden_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Every buffer of a model as floats, by name.
fn buffers<M: Tensors<f64>>(model: &M) -> Vec<(String, Vec<f64>)> {
    let mut out = Vec::new();
    model.visit_buffers("", &mut |name, _, values| {
        let values = match values {
            Buffer::Float(v) => v.to_vec(),
            Buffer::Int64(v) => v.iter().map(|&n| n as f64).collect(),
        };
        out.push((name.to_string(), values));
    });
    out
}

#[test]
fn a_pytorch_state_dict_with_running_statistics_loads_and_the_model_matches_pytorch() {
    let mut model = BnNet::init(&mut StdRng::seed_from_u64(0));
    io::load(&mut model, golden_file("torch_bn.safetensors")).unwrap();
    // Two training passes in PyTorch before the save.
    assert_eq!(model.1.num_batches_tracked, 2);
    assert_eq!(model.3.block.4.num_batches_tracked, 2);
    assert_eq!(model.7.num_batches_tracked, 2);
    let x = t::<(U3, U1, U8, U8)>("bnmodel.x");
    close(model.infer(&x).as_slice(), "bnmodel.eval_logits", 1e-12);

    let mut loss = 0.0;
    let (logits, _, grads) = train_pass(&mut model, &x, |logits| {
        let (l, d) = softmax_cross_entropy(logits, &[2, 0, 1]).unwrap();
        loss = l;
        d
    });
    close(logits.as_slice(), "bnmodel.train_logits", 1e-12);
    close(&[loss], "bnmodel.loss", 1e-12);
    let mut seen = 0;
    grads.visit("", &mut |name, _, values| {
        let key = format!("bnmodel.grad.{name}");
        if v(&key).iter().all(|g| g.abs() < 1e-12) {
            // A bias just before a batch normalisation has no effect (the mean is subtracted):
            // its gradient is 0, up to rounding on both sides.
            assert!(values.iter().all(|g| g.abs() < 1e-12), "{key}: {values:?}");
        } else {
            close(values, &key, 1e-9);
        }
        seen += 1;
    });
    assert_eq!(seen, 18);
    let after = buffers(&model);
    assert_eq!(after.len(), 12);
    for (name, values) in after {
        close(&values, &format!("bnmodel.after.{name}"), 1e-12);
    }
}

/// The model shaped saves: seeded, then two training passes to move the running statistics.
fn shaped_bn_model() -> BnNet {
    let mut model = BnNet::init(&mut StdRng::seed_from_u64(42));
    let mut work = Default::default();
    for seed in 0..2 {
        let x = Tensor::<(U4, U1, U8, U8), f64>::from_fn(|i| {
            ((i[0] * 64 + i[2] * 8 + i[3] + seed * 7) as f64 * 0.77).sin() + seed as f64
        });
        model.forward_train(&x, &mut work, &mut Context::new(0));
    }
    model
}

#[test]
fn shaped_bn_file_loads_into_pytorch() {
    let model = shaped_bn_model();
    assert_eq!(model.1.num_batches_tracked, 2);
    let bytes = io::to_bytes(&model).unwrap();
    let path = golden_file("shaped_bn.safetensors");
    if std::env::var_os("SHAPED_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    // The committed file is exactly what shaped writes for this model...
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "{}", path.display());
    // ...PyTorch loads it strictly into the same module (every name and shape its own, the
    // counters int64 scalars) and computes the same evaluation logits from it.
    let logits = model.infer(&t::<(U3, U1, U8, U8)>("bnmodel.x"));
    close(logits.as_slice(), "bnmodel.shaped_file_logits", 1e-12);
    assert_eq!(v("bnmodel.shaped_file_num_batches_tracked"), [2.0]);
    // And it loads back here, buffers included.
    let mut back = BnNet::init(&mut StdRng::seed_from_u64(0));
    io::from_bytes(&mut back, &bytes).unwrap();
    assert_eq!(back, model);
}

#[test]
fn num_batches_tracked_is_an_int64_scalar_in_the_file() {
    let bytes = io::to_bytes(&shaped_bn_model()).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let counter = file.tensor("3.block.1.num_batches_tracked").unwrap();
    assert_eq!(counter.dtype(), safetensors::Dtype::I64);
    assert_eq!(counter.shape(), [0usize; 0]);
    assert_eq!(counter.data(), 2i64.to_le_bytes());
    let mean = file.tensor("7.running_mean").unwrap();
    assert_eq!(
        (mean.dtype(), mean.shape()),
        (safetensors::Dtype::F64, &[8usize][..])
    );
    // 18 parameters and 12 buffers.
    assert_eq!(file.len(), 30);
}

#[test]
fn buffers_missing_or_of_another_dtype_are_errors_naming_them() {
    let fresh = || BnNet::init(&mut StdRng::seed_from_u64(0));
    let mut model = shaped_bn_model();

    // A file of the parameters alone (as a model without buffers would write it).
    struct ParamsOnly<'a>(&'a BnNet);
    impl Tensors<f64> for ParamsOnly<'_> {
        fn count(&self) -> usize {
            self.0.count()
        }
        fn tensor(&self, i: usize) -> &[f64] {
            self.0.tensor(i)
        }
        fn tensor_mut(&mut self, _: usize) -> &mut [f64] {
            unreachable!("saved only")
        }
        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[f64])) {
            self.0.visit(prefix, f)
        }
        fn visit_mut<Err>(
            &mut self,
            _: &str,
            _: &mut dyn FnMut(&str, &[usize], &mut [f64]) -> Result<(), Err>,
        ) -> Result<(), Err> {
            unreachable!("saved only")
        }
    }
    let bytes = io::to_bytes(&ParamsOnly(&model)).unwrap();
    let mut loaded = fresh();
    let err = io::from_bytes(&mut loaded, &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor \"1.running_mean\" is missing from the file"
    );
    assert_eq!(loaded, fresh(), "a failed load leaves the model unchanged");

    // A counter saved as a float.
    struct FloatCounter(BnNet);
    impl Tensors<f64> for FloatCounter {
        fn count(&self) -> usize {
            self.0.count()
        }
        fn tensor(&self, i: usize) -> &[f64] {
            self.0.tensor(i)
        }
        fn tensor_mut(&mut self, i: usize) -> &mut [f64] {
            self.0.tensor_mut(i)
        }
        fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &[usize], &[f64])) {
            self.0.visit(prefix, f);
            self.0
                .visit_buffers(prefix, &mut |name, dims, values| match values {
                    Buffer::Float(v) => f(name, dims, v),
                    Buffer::Int64(v) => f(name, dims, &[v[0] as f64]),
                });
        }
        fn visit_mut<Err>(
            &mut self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &[usize], &mut [f64]) -> Result<(), Err>,
        ) -> Result<(), Err> {
            self.0.visit_mut(prefix, f)
        }
    }
    model.7.num_batches_tracked = 5;
    let bytes = io::to_bytes(&FloatCounter(model)).unwrap();
    let err = io::from_bytes(&mut loaded, &bytes).unwrap_err();
    assert!(
        matches!(err, LoadError::Dtype { ref name, .. } if name == "1.num_batches_tracked"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "tensor \"1.num_batches_tracked\" has dtype F64, expected I64"
    );
    assert_eq!(loaded, fresh());
    // `visit_buffers_mut` reaches every buffer, the counters as integers.
    let mut counters = 0;
    loaded
        .visit_buffers_mut("", &mut |_, _, values| {
            if let BufferMut::Int64(v) = values {
                v[0] = 9;
                counters += 1;
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!((counters, loaded.3.block.1.num_batches_tracked), (4, 9));
}

#[test]
fn batchnorm2d_in_f32_matches_pytorch_to_f32_precision() {
    let f32s = |key: &str| -> Vec<f32> { v(key).iter().map(|&x| x as f32).collect() };
    let f64s = |t: &[f32]| -> Vec<f64> { t.iter().map(|&x| f64::from(x)).collect() };
    let mut bn = BatchNorm2d::<U3>::new();
    bn.weight = Tensor::from_vec(f32s("bn2d.w")).unwrap();
    bn.bias = Tensor::from_vec(f32s("bn2d.b")).unwrap();
    let x = Tensor::<(U4, U3, U5, U5)>::from_vec(f32s("bn2d.x1")).unwrap();
    let dy = Tensor::<(U4, U3, U5, U5)>::from_vec(f32s("bn2d.dy")).unwrap();
    let y = bn.forward_training(&x);
    let (dx, grads) = bn.backward(&x, &dy);
    close(&f64s(y.as_slice()), "bn2d.y_train", 1e-5);
    close(&f64s(dx.as_slice()), "bn2d.dx", 1e-5);
    close(&f64s(grads.weight.as_slice()), "bn2d.dw", 1e-5);
    close(&f64s(bn.running_var.as_slice()), "bn2d.running_var1", 1e-5);
}
