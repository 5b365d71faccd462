//! Residual blocks: `x + block(x)` and `shortcut(x) + block(x)` against PyTorch float64 golden
//! values (tests/golden/residual.txt, made by tests/golden/make_golden.py, torch version in its
//! first line: a `class Residual(nn.Module)` with `self.block` and `self.shortcut`, whose
//! parameter names shaped's match) and finite differences; a `Dyn` batch; the shape rule at run
//! time.

mod common;
use common::{dot, finite_diff, golden, rel_err, train_pass, Record};
use shaped::{typenum::*, Conv, Dyn, Module, Projected, ReLU, Residual, Seeded, Shape};
use shaped::{Tensor, Tensors};
use std::collections::HashMap;
use std::sync::OnceLock;

fn g() -> &'static HashMap<String, Record> {
    static G: OnceLock<HashMap<String, Record>> = OnceLock::new();
    G.get_or_init(|| golden("residual.txt"))
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

/// conv-relu-conv, 4 channels, 3 × 3, padding 1.
type Identity = Residual<(
    Conv<U4, U4, U3, U3, U1, U1, f64>,
    ReLU,
    Conv<U4, U4, U3, U3, U1, U1, f64>,
)>;

/// A block from 4 channels to 8 at stride 2, beside a 1 × 1 convolution at stride 2.
type Down = Projected<
    (
        Conv<U4, U8, U3, U3, U2, U1, f64>,
        ReLU,
        Conv<U8, U8, U3, U3, U1, U1, f64>,
    ),
    (Conv<U4, U8, U1, U1, U2, U0, f64>,),
>;

/// Sets every parameter from the golden records `TAG.param.NAME`, by shaped's own names: the
/// names are PyTorch's, or a record is missing.
fn load<M: Tensors<f64>>(model: &mut M, tag: &str) {
    let mut n = 0;
    model
        .visit_mut("", &mut |name, dims, values| {
            let r = &g()[&format!("{tag}.param.{name}")];
            assert_eq!(r.dims, dims, "{name}");
            values.copy_from_slice(&r.values);
            n += 1;
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(n, model.count());
}

/// The forward pass, the input gradient and every parameter gradient against PyTorch.
fn check_golden<M, X, Y>(model: &mut M, tag: &str)
where
    M: Module<f64, Tensor<X, f64>, Out = Tensor<Y, f64>>,
    X: Shape,
    Y: Shape,
{
    load(model, tag);
    let key = |k: &str| format!("{tag}.{k}");
    let x = t::<X>(&key("x"));
    let (y, dx, grads) = train_pass(model, &x, |y| {
        Tensor::from_shape_vec(y.shape(), v(&key("dy")).to_vec()).unwrap()
    });
    close(y.as_slice(), &key("y"), 1e-12);
    close(dx.as_slice(), &key("dx"), 1e-12);
    assert_eq!(model.infer(&x).as_slice(), y.as_slice());
    let mut n = 0;
    grads.visit("", &mut |name, _, values| {
        close(values, &key(&format!("grad.{name}")), 1e-10);
        n += 1;
    });
    assert_eq!(n, model.count());
}

#[test]
fn an_identity_block_matches_pytorch() {
    let mut model = Identity::seeded(0);
    check_golden::<_, (U2, U4, U6, U6), (U2, U4, U6, U6)>(&mut model, "identity");
}

#[test]
fn a_projected_block_matches_pytorch() {
    let mut model = Down::seeded(0);
    check_golden::<_, (U2, U4, U7, U7), (U2, U8, U4, U4)>(&mut model, "projected");
}

#[test]
fn parameters_are_named_block_and_shortcut_as_in_pytorch() {
    let mut names = Vec::new();
    Down::seeded(0).visit("", &mut |name, _, _| names.push(name.to_string()));
    assert_eq!(
        names,
        [
            "block.0.weight",
            "block.0.bias",
            "block.2.weight",
            "block.2.bias",
            "shortcut.0.weight",
            "shortcut.0.bias"
        ]
    );
    let mut names = Vec::new();
    let model = <(ReLU, Identity)>::seeded(0);
    model.visit("", &mut |name, _, _| names.push(name.to_string()));
    assert_eq!(
        names,
        [
            "1.block.0.weight",
            "1.block.0.bias",
            "1.block.2.weight",
            "1.block.2.bias"
        ]
    );
    // The gradients carry the same names, so an optimizer's saved state does too.
    let mut grad_names = Vec::new();
    use shaped::Params;
    model
        .zero_grads()
        .visit("", &mut |name, _, _| grad_names.push(name.to_string()));
    assert_eq!(grad_names, names);
}

/// `L = Σ model(x) ∘ g`, and its gradients by finite differences against the backward pass,
/// for the input and every parameter.
fn fd_check<M, X, Y>(model: &M, x: &Tensor<X, f64>)
where
    M: Module<f64, Tensor<X, f64>, Out = Tensor<Y, f64>> + Clone,
    X: Shape,
    Y: Shape,
{
    let mut m = model.clone();
    let mut gvec = Vec::new();
    let (_, dx, grads) = train_pass(&mut m, x, |y| {
        gvec = (0..y.as_slice().len())
            .map(|i| (i as f64 * 0.41).sin())
            .collect();
        Tensor::from_shape_vec(y.shape(), gvec.clone()).unwrap()
    });
    let loss = |m: &M, x: &Tensor<X, f64>| dot(m.infer(x).as_slice(), &gvec);
    let h = 1e-6;
    let fx = finite_diff(x.as_slice(), h, |p| {
        loss(
            model,
            &Tensor::from_shape_vec(x.shape(), p.to_vec()).unwrap(),
        )
    });
    let e = rel_err(dx.as_slice(), &fx);
    assert!(e < 1e-6, "dx: {e:e}");
    for i in 0..model.count() {
        let fp = finite_diff(model.tensor(i), h, |p| {
            let mut m = model.clone();
            m.tensor_mut(i).copy_from_slice(p);
            loss(&m, x)
        });
        let e = rel_err(grads.tensor(i), &fp);
        assert!(e < 1e-6, "parameter {i}: {e:e}");
    }
}

fn input<X: shaped::ConstShape>() -> Tensor<X, f64> {
    // Values spread out so that no ReLU input sits within a step of 0.
    Tensor::from_fn(|i| {
        let k: usize = i.iter().enumerate().map(|(a, &b)| (a * 13 + 7) * b).sum();
        ((k as f64) * 0.73).sin() * 1.5
    })
}

#[test]
fn an_identity_block_backward_matches_finite_differences() {
    let model = Identity::seeded(3);
    fd_check(&model, &input::<(U2, U4, U5, U5)>());
}

#[test]
fn a_projected_block_backward_matches_finite_differences() {
    let model = Down::seeded(4);
    fd_check(&model, &input::<(U1, U4, U6, U6)>());
}

#[test]
fn gradients_along_both_paths_add_up() {
    let mut model = Identity::seeded(5);
    let x = input::<(U2, U4, U4, U4)>();
    let dy = x.map(|v| v * 0.3 + 0.1);
    let (y, dx, grads) = train_pass(&mut model, &x, |_| dy.clone());
    let (by, bdx, bgrads) = train_pass(&mut model.block, &x, |_| dy.clone());
    for ((y, b), x) in y.as_slice().iter().zip(by.as_slice()).zip(x.as_slice()) {
        assert_eq!(*y, b + x);
    }
    for ((d, b), g) in dx.as_slice().iter().zip(bdx.as_slice()).zip(dy.as_slice()) {
        assert_eq!(*d, b + g);
    }
    assert_eq!(grads.block, bgrads);

    let mut down = Down::seeded(6);
    let x = input::<(U2, U4, U6, U6)>();
    let dy = Tensor::<(U2, U8, U3, U3), f64>::from_fn(|i| (i[1] as f64 - 3.5) * 0.2);
    let (_, dx, grads) = train_pass(&mut down, &x, |_| dy.clone());
    let (_, bdx, bgrads) = train_pass(&mut down.block, &x, |_| dy.clone());
    let (_, sdx, sgrads) = train_pass(&mut down.shortcut, &x, |_| dy.clone());
    for ((d, b), s) in dx.as_slice().iter().zip(bdx.as_slice()).zip(sdx.as_slice()) {
        assert_eq!(*d, b + s);
    }
    assert_eq!((grads.block, grads.shortcut), (bgrads, sgrads));
}

#[test]
fn a_dyn_batch_equals_the_static_batch() {
    let mut a = Down::seeded(7);
    let mut b = a.clone();
    let x = input::<(U3, U4, U7, U7)>();
    let xd: Tensor<(Dyn, U4, U7, U7), f64> = x.clone().into_dyn_batch();
    let (y, dx, grads) = train_pass(&mut a, &x, |y| y.map(|v| v.cos()));
    let (yd, dxd, gradsd) = train_pass(&mut b, &xd, |y| y.map(|v| v.cos()));
    assert_eq!(yd.dims(), [3, 8, 4, 4]);
    assert_eq!(y.as_slice(), yd.as_slice());
    assert_eq!(dx.as_slice(), dxd.as_slice());
    assert_eq!(grads, gradsd);

    let mut a = Identity::seeded(8);
    let mut b = a.clone();
    let x = input::<(U2, U4, U5, U5)>();
    let (y, dx, _) = train_pass(&mut a, &x, |y| y.clone());
    let (yd, dxd, _) = train_pass(&mut b, &x.clone().into_dyn_batch(), |y| y.clone());
    assert_eq!(
        (y.as_slice(), dx.as_slice()),
        (yd.as_slice(), dxd.as_slice())
    );
}

#[test]
#[should_panic(
    expected = "shape mismatch in Residual: the block maps (2, 4, 8, 8) to (2, 4, 4, 4); x + block(x) needs the same shape"
)]
fn a_block_that_halves_a_runtime_height_panics_in_the_rules_words() {
    // Height and width known at run time: the compiler cannot see the stride halve them.
    let model = Residual::new((Conv::<U4, U4, U3, U3, U2, U1>::seeded(0),));
    let x = Tensor::<(U2, U4, Dyn, Dyn)>::zeros_with((U2::new(), U4::new(), Dyn(8), Dyn(8)));
    model.infer(&x);
}

#[test]
#[should_panic(
    expected = "shape mismatch in Projected: the shortcut gives (1, 8, 6, 6), the block (1, 8, 3, 3); shortcut(x) + block(x) needs the same shape"
)]
fn a_shortcut_without_the_blocks_stride_panics_at_run_time() {
    let mut model = Projected::new(
        (Conv::<U4, U8, U3, U3, U2, U1>::seeded(0),),
        (Conv::<U4, U8, U1, U1>::seeded(0),),
    );
    let x = Tensor::<(U1, U4, Dyn, Dyn)>::zeros_with((U1::new(), U4::new(), Dyn(6), Dyn(6)));
    model.forward_train(&x, &mut Default::default(), &mut shaped::Context::new(0));
}
