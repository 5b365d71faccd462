//! NaN and extreme values, treated as PyTorch treats them: ReLU, max and average pooling
//! (ties and NaN in a window), and cross-entropy at logits far apart. Golden values from
//! tests/golden/edge.txt, made by tests/golden/make_golden.py (torch version in its first line).

mod common;
use common::{golden, train_pass, Record};
use shaped::{softmax_cross_entropy, typenum::*, AvgPool2d, MaxPool2d, ReLU, Tensor};
use std::collections::HashMap;

fn g() -> HashMap<String, Record> {
    golden("edge.txt")
}

/// Equal as PyTorch computed them, NaN where PyTorch has NaN.
fn same(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        assert!(ok, "{what}[{i}]: {a} against PyTorch's {b}");
    }
}

fn t<S: shaped::Shape>(g: &HashMap<String, Record>, key: &str) -> Tensor<S, f64> {
    Tensor::from_vec(g[key].values.clone()).unwrap()
}

#[test]
fn relu_propagates_nan_as_pytorch() {
    let g = g();
    let x = t::<(U1, U4)>(&g, "relu_nan.x");
    same(ReLU.forward(&x).as_slice(), &g["relu_nan.y"].values, "y");
    let dy = Tensor::<(U1, U4), f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    same(
        ReLU.backward(&x, &dy).as_slice(),
        &g["relu_nan.dx"].values,
        "dx",
    );
}

#[test]
fn max_pooling_ties_and_nan_follow_pytorch() {
    let g = g();
    let x = t::<(U1, U1, U4, U4)>(&g, "maxpool_nan.x");
    let dy = t::<(U1, U1, U2, U2)>(&g, "maxpool_nan.dy");
    let (y, dx, ()) = train_pass(&mut MaxPool2d::<U2>::new(), &x, |_| dy.clone());
    same(y.as_slice(), &g["maxpool_nan.y"].values, "y");
    same(dx.as_slice(), &g["maxpool_nan.dx"].values, "dx");
}

#[test]
fn average_pooling_propagates_nan_as_pytorch() {
    let g = g();
    let x = t::<(U1, U1, U4, U4)>(&g, "maxpool_nan.x");
    let dy = t::<(U1, U1, U2, U2)>(&g, "maxpool_nan.dy");
    let (y, dx, ()) = train_pass(&mut AvgPool2d::<U2>::new(), &x, |_| dy.clone());
    same(y.as_slice(), &g["avgpool_nan.y"].values, "y");
    same(dx.as_slice(), &g["avgpool_nan.dx"].values, "dx");
}

#[test]
fn cross_entropy_is_exact_at_extreme_logits_and_propagates_nan() {
    let g = g();
    let z = t::<(U2, U2)>(&g, "ce_far.z");
    let (loss, dz) = softmax_cross_entropy(&z, &[0, 0]).unwrap();
    same(&[loss], &g["ce_far.loss"].values, "loss");
    same(dz.as_slice(), &g["ce_far.dz"].values, "dz");
    // In f32 too: finite where the label's exponential underflows.
    let z32 = Tensor::<(U2, U2)>::from_vec(vec![0.0, 110.0, -400.0, 400.0]).unwrap();
    assert_eq!(softmax_cross_entropy(&z32, &[0, 0]).unwrap().0, 455.0);
    let z = t::<(U1, U3)>(&g, "ce_nan.z");
    let (loss, dz) = softmax_cross_entropy(&z, &[2]).unwrap();
    same(&[loss], &g["ce_nan.loss"].values, "loss");
    same(dz.as_slice(), &g["ce_nan.dz"].values, "dz");
}

#[test]
fn random_logits_in_f32_never_give_an_infinite_loss() {
    // The audit's case: logits in ±100, 2,000 batches; the stable form is always finite.
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 * 200.0 - 100.0
    };
    for _ in 0..2000 {
        let z = Tensor::<(U4, U10)>::from_fn(|_| next());
        let (loss, _) = softmax_cross_entropy(&z, &[0, 3, 7, 9]).unwrap();
        assert!(loss.is_finite(), "{z:?}");
    }
}
