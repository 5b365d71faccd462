//! The activations (LeakyReLU, Sigmoid, Tanh, GELU, SiLU) and softmax / log_softmax: against
//! PyTorch in float64 (tests/golden/activations.txt, made by tests/golden/make_golden.py, torch
//! version in its first line), against central finite differences, and inside a trained model.

mod common;
use common::{finite_diff, golden, rel_err, train_pass, Record};
use shaped::{log_softmax, softmax, typenum::*, Dyn, Element, Elementwise, Shape, Tensor};
use shaped::{Affine, LeakyReLU, Module, Params, Seeded, SiLU, Sigmoid, Tanh, GELU};
use std::collections::HashMap;

fn g() -> HashMap<String, Record> {
    golden("activations.txt")
}

/// Equal to PyTorch's value up to rounding (`1e-12`, relative above 1, absolute below), NaN
/// where PyTorch has NaN, and the same infinity.
fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let ok = if b.is_nan() || b.is_infinite() {
            a.is_nan() == b.is_nan() && (b.is_nan() || a == b)
        } else {
            (a - b).abs() <= 1e-12 * b.abs().max(1.0)
        };
        assert!(ok, "{what}[{i}]: {a:e} against PyTorch's {b:e}");
    }
}

/// A tensor of a record, its shape `S`.
fn t<S: Shape>(g: &HashMap<String, Record>, key: &str) -> Tensor<S, f64> {
    Tensor::from_vec(g[key].values.clone()).unwrap()
}

/// The forward values and input gradients of `layer` equal PyTorch's, on the main points and
/// on NaN and ±inf.
fn matches_pytorch<L: Elementwise>(layer: L, tag: &str) {
    let g = g();
    for (suffix, rows) in [("", 4), ("_edge", 1)] {
        let key = |k: &str| format!("{tag}{suffix}.{k}");
        assert_eq!(g[&key("x")].dims[0], rows);
        let x = Tensor::<(Dyn, Dyn), f64>::from_shape_vec(
            (Dyn(rows), Dyn(g[&key("x")].dims[1])),
            g[&key("x")].values.clone(),
        )
        .unwrap();
        let dy = Tensor::from_shape_vec(x.shape(), g[&key("dy")].values.clone()).unwrap();
        close(
            layer.forward(&x).as_slice(),
            &g[&key("y")].values,
            &key("y"),
        );
        close(
            layer.backward(&x, &dy).as_slice(),
            &g[&key("dx")].values,
            &key("dx"),
        );
    }
}

#[test]
fn leaky_relu_matches_pytorch_with_the_default_slope() {
    matches_pytorch(LeakyReLU::default(), "leaky_relu");
}

#[test]
fn leaky_relu_matches_pytorch_with_slope_0_2() {
    matches_pytorch(LeakyReLU::new(0.2), "leaky_relu_0.2");
}

#[test]
fn sigmoid_matches_pytorch() {
    matches_pytorch(Sigmoid, "sigmoid");
}

#[test]
fn tanh_matches_pytorch() {
    matches_pytorch(Tanh, "tanh");
}

#[test]
fn gelu_matches_pytorch_exact_erf_form() {
    matches_pytorch(GELU, "gelu");
}

#[test]
fn silu_matches_pytorch() {
    matches_pytorch(SiLU, "silu");
}

#[test]
fn leaky_relu_gradient_at_zero_is_the_slope_as_in_pytorch() {
    let g = g();
    // The main record holds −0 and +0 at positions 7 and 8.
    assert_eq!(&g["leaky_relu_0.2.x"].values[7..9], &[0.0, 0.0]);
    let x = t::<(U4, U8)>(&g, "leaky_relu_0.2.x");
    let ones = Tensor::<(U4, U8), f64>::full(1.0);
    let dx = LeakyReLU::new(0.2).backward(&x, &ones);
    assert_eq!(&dx.as_slice()[7..9], &[0.2, 0.2]);
}

/// `Σ f(x) ∘ g`, and its gradient by `backward`.
fn loss_and_grad<L: Elementwise>(layer: &L, x: &[f64], g: &[f64]) -> (f64, Vec<f64>) {
    let xt = Tensor::<(U3, U7), f64>::from_vec(x.to_vec()).unwrap();
    let gt = Tensor::<(U3, U7), f64>::from_vec(g.to_vec()).unwrap();
    let y = layer.forward(&xt);
    let loss = y.mul(&gt).sum();
    (loss, layer.backward(&xt, &gt).into_vec())
}

fn matches_finite_differences<L: Elementwise>(layer: L) {
    // Away from 0 (LeakyReLU's kink), from −6 to 6.
    let x: Vec<f64> = (0..21)
        .map(|i| {
            let v = (i as f64 - 10.0) * 0.57 + 0.13;
            if v.abs() < 0.05 {
                v + 0.2
            } else {
                v
            }
        })
        .collect();
    let g: Vec<f64> = (0..21).map(|i| (i as f64 * 0.61).cos() + 0.1).collect();
    let (_, dx) = loss_and_grad(&layer, &x, &g);
    let fd = finite_diff(&x, 1e-6, |p| loss_and_grad(&layer, p, &g).0);
    assert!(rel_err(&dx, &fd) < 1e-7, "{}", rel_err(&dx, &fd));
    // The check can fail: the gradient one element off is far from it.
    assert!(rel_err(&dx[1..], &fd[..fd.len() - 1]) > 1e-3);
}

#[test]
fn leaky_relu_backward_matches_finite_differences() {
    matches_finite_differences(LeakyReLU::new(0.3));
}

#[test]
fn sigmoid_backward_matches_finite_differences() {
    matches_finite_differences(Sigmoid);
}

#[test]
fn tanh_backward_matches_finite_differences() {
    matches_finite_differences(Tanh);
}

#[test]
fn gelu_backward_matches_finite_differences() {
    matches_finite_differences(GELU);
}

#[test]
fn silu_backward_matches_finite_differences() {
    matches_finite_differences(SiLU);
}

/// A model of every activation, between affine layers.
type Net<E> = (
    Affine<U5, U6, E>,
    GELU,
    Affine<U6, U6, E>,
    Tanh,
    Affine<U6, U6, E>,
    LeakyReLU,
    Affine<U6, U6, E>,
    SiLU,
    Affine<U6, U3, E>,
    Sigmoid,
);

/// `Σ model(x) ∘ g` in a training pass, with the input gradient and the parameter gradients.
fn model_loss<E: Element>(
    model: &mut Net<E>,
    x: &Tensor<(U4, U5), E>,
    g: &Tensor<(U4, U3), E>,
) -> (f64, Tensor<(U4, U5), E>, <Net<E> as Params<E>>::Grads) {
    let (y, dx, grads) = train_pass(model, x, |_| g.clone());
    (y.mul(g).sum().to_f64().unwrap(), dx, grads)
}

#[test]
fn a_model_of_every_activation_trains_with_gradients_that_match_finite_differences() {
    let mut model = Net::<f64>::seeded(3);
    model.5 = LeakyReLU::new(0.1);
    let x = Tensor::<(U4, U5), f64>::from_fn(|i| ((i[0] * 5 + i[1]) as f64 * 0.9).sin() * 2.0);
    let g = Tensor::<(U4, U3), f64>::from_fn(|i| (i[0] + i[1]) as f64 * 0.3 - 0.5);
    let (_, dx, grads) = model_loss(&mut model, &x, &g);
    // The inference pass gives the training pass's output.
    let (y, _, _) = train_pass(&mut model, &x, |_| g.clone());
    assert_eq!(model.infer(&x), y);

    let xs = x.as_slice().to_vec();
    let fx = finite_diff(&xs, 1e-6, |p| {
        let xp = Tensor::from_vec(p.to_vec()).unwrap();
        model_loss(&mut model.clone(), &xp, &g).0
    });
    assert!(rel_err(dx.as_slice(), &fx) < 1e-6, "dx");
    // The first layer's weight gradient, through every activation above it.
    let w = model.0.weight.as_slice().to_vec();
    let fw = finite_diff(&w, 1e-6, |p| {
        let mut m = model.clone();
        m.0.weight = Tensor::from_vec(p.to_vec()).unwrap();
        model_loss(&mut m, &x, &g).0
    });
    assert!(rel_err(grads.0.weight.as_slice(), &fw) < 1e-6, "dw");
}

#[test]
fn a_model_of_every_activation_gives_the_same_output_in_f32_as_in_f64_up_to_rounding() {
    let m64 = Net::<f64>::seeded(3);
    let m32 = Net::<f32>::seeded(3);
    let x64 = Tensor::<(U2, U5), f64>::from_fn(|i| (i[0] as f64 - i[1] as f64) * 0.4);
    let x32 = Tensor::<(U2, U5), f32>::from_vec(x64.as_slice().iter().map(|&v| v as f32).collect())
        .unwrap();
    let (y64, y32) = (m64.infer(&x64), m32.infer(&x32));
    let y32: Vec<f64> = y32.as_slice().iter().map(|&v| v.into()).collect();
    assert!(rel_err(&y32, y64.as_slice()) < 1e-5);
}

#[test]
fn softmax_and_log_softmax_match_pytorch_at_rank_2_and_3_and_on_inf_and_nan() {
    let g = g();
    let check = |tag: &str, sm: &[f64], lsm: &[f64]| {
        close(sm, &g[&format!("softmax_{tag}.softmax")].values, tag);
        close(lsm, &g[&format!("softmax_{tag}.log_softmax")].values, tag);
    };
    let a = t::<(U3, U5)>(&g, "softmax_rank2.x");
    check("rank2", softmax(&a).as_slice(), log_softmax(&a).as_slice());
    let b = t::<(U2, U3, U4)>(&g, "softmax_rank3.x");
    check("rank3", softmax(&b).as_slice(), log_softmax(&b).as_slice());
    let c = t::<(Dyn, U3)>(&g, "softmax_edge.x");
    check("edge", softmax(&c).as_slice(), log_softmax(&c).as_slice());
}

#[test]
fn softmax_rows_sum_to_one_and_its_log_is_log_softmax_in_f32() {
    let x = Tensor::<(U4, U10)>::from_fn(|i| ((i[0] * 10 + i[1]) as f32 * 1.7).sin() * 30.0);
    let p = softmax(&x);
    let lp = log_softmax(&x);
    for r in 0..4 {
        let sum: f32 = p.row(r).iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "row {r}: {sum}");
        for (a, b) in p.row(r).iter().zip(lp.row(r)) {
            assert!((a.ln() - b).abs() < 1e-4 * b.abs().max(1.0), "{a} {b}");
        }
    }
}

#[test]
fn softmax_into_reuses_its_buffer_across_batches() {
    let mut p = Tensor::<(Dyn, U3)>::default();
    for n in [4, 2, 4] {
        let x = Tensor::<(Dyn, U3)>::from_vec(vec![1.0; n * 3]).unwrap();
        shaped::softmax_into(&x, &mut p);
        assert_eq!(p.dims(), [n, 3]);
        assert!(p.as_slice().iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-7));
        shaped::log_softmax_into(&x, &mut p);
        assert!(p.as_slice().iter().all(|&v| (v + 3f32.ln()).abs() < 1e-6));
    }
}

#[test]
fn an_activation_gradient_of_another_runtime_batch_panics_naming_the_layer() {
    let x = Tensor::<(Dyn, U2), f64>::from_vec(vec![0.0; 6]).unwrap();
    let dy = Tensor::<(Dyn, U2), f64>::from_vec(vec![0.0; 4]).unwrap();
    let err = std::panic::catch_unwind(|| GELU.backward(&x, &dy)).unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some(
            "shape mismatch in GELU grad_output: expected (3, 2) (the input's shape), found (2, 2)"
        )
    );
    let err = std::panic::catch_unwind(|| LeakyReLU::default().backward(&x, &dy)).unwrap_err();
    assert!(err
        .downcast_ref::<String>()
        .is_some_and(|m| m.starts_with("shape mismatch in LeakyReLU grad_output")));
}

#[test]
fn a_pass_long_enough_for_every_core_gives_each_element_its_own_value() {
    // 2^20 elements: split across threads where there are helpers; each element is still
    // f(x) and dy ∘ f′(x) of its own input.
    let x = Tensor::<(U1024, U1024)>::from_fn(|i| ((i[0] * 1024 + i[1]) as f32 * 1e-3).sin() * 5.0);
    let dy = Tensor::<(U1024, U1024)>::from_fn(|i| (i[1] % 7) as f32 - 3.0);
    let y = GELU.forward(&x);
    let dx = GELU.backward(&x, &dy);
    for (i, ((&v, &g), (&yv, &dv))) in x
        .as_slice()
        .iter()
        .zip(dy.as_slice())
        .zip(y.as_slice().iter().zip(dx.as_slice()))
        .enumerate()
    {
        assert_eq!(yv, GELU.value(v), "y[{i}]");
        assert_eq!(dv, g * GELU.derivative(v, GELU.value(v)), "dx[{i}]");
    }
}
