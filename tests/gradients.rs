//! Affine and ReLU gradients, checked against finite differences and against PyTorch.

mod common;
use common::{dot, finite_diff, golden, rel_err};
use shaped::{typenum::*, Affine, ConstDim, ReLU, Shape, Tensor};

fn t<S: Shape>(v: &[f64]) -> Tensor<S, f64> {
    Tensor::from_vec(v.to_vec()).unwrap()
}

/// L = Σ relu(X·Wᵀ + b) ∘ G, and its gradients by the layers' backward passes.
fn loss_and_grads<N, DI, DO>(
    x: &[f64],
    w: &[f64],
    b: &[f64],
    g: &[f64],
) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>)
where
    N: ConstDim,
    DI: ConstDim,
    DO: ConstDim,
{
    let layer = Affine::<DI, DO, f64>::new(t(w), t(b));
    let x = t::<(N, DI)>(x);
    let z = layer.forward(&x);
    let y = ReLU.forward(&z);
    let dz = ReLU.backward(&z, &t::<(N, DO)>(g));
    let (dx, grads) = layer.backward(&x, &dz);
    (
        dot(y.as_slice(), g),
        dx.into_vec(),
        grads.weight.into_vec(),
        grads.bias.into_vec(),
    )
}

#[test]
fn affine_relu_backward_matches_finite_differences_f64() {
    // Inputs away from the ReLU kink so central differences are exact up to rounding.
    let x: Vec<f64> = (0..4 * 5)
        .map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.3)
        .collect();
    let w: Vec<f64> = (0..3 * 5)
        .map(|i| ((i * 5 % 13) as f64 - 6.0) * 0.17)
        .collect();
    let b = vec![0.31, -0.23, 0.11];
    let g: Vec<f64> = (0..4 * 3).map(|i| (i as f64 * 0.37).sin()).collect();
    let f = |x: &[f64], w: &[f64], b: &[f64]| loss_and_grads::<U4, U5, U3>(x, w, b, &g).0;
    let (_, dx, dw, db) = loss_and_grads::<U4, U5, U3>(&x, &w, &b, &g);
    let h = 1e-6;
    let fx = finite_diff(&x, h, |p| f(p, &w, &b));
    let fw = finite_diff(&w, h, |p| f(&x, p, &b));
    let fb = finite_diff(&b, h, |p| f(&x, &w, p));
    assert!(rel_err(&dx, &fx) < 1e-6, "dx: {}", rel_err(&dx, &fx));
    assert!(rel_err(&dw, &fw) < 1e-6, "dw: {}", rel_err(&dw, &fw));
    assert!(rel_err(&db, &fb) < 1e-6, "db: {}", rel_err(&db, &fb));
    // The check can fail: a wrong gradient is far off.
    assert!(rel_err(&dx[1..], &fx[..fx.len() - 1]) > 1e-3);
}

#[test]
fn affine_backward_matches_finite_differences_f32() {
    let layer = Affine::<U6, U4, f32>::new(
        Tensor::from_fn(|i| ((i[0] * 6 + i[1]) as f32 * 0.7).cos()),
        Tensor::from_fn(|i| i[0] as f32 * 0.1),
    );
    let x = Tensor::<(U3, U6), f32>::from_fn(|i| ((i[0] * 6 + i[1]) as f32 * 0.3).sin());
    let g = Tensor::<(U3, U4), f32>::from_fn(|i| (i[0] + 2 * i[1]) as f32 * 0.25 - 1.0);
    let (dx, grads) = layer.backward(&x, &g);
    let loss = |layer: &Affine<U6, U4, f32>, x: &Tensor<(U3, U6), f32>| -> f64 {
        let y = layer.forward(x);
        y.as_slice()
            .iter()
            .zip(g.as_slice())
            .map(|(a, b)| f64::from(a * b))
            .sum()
    };
    let h = 1e-2f32;
    let xs: Vec<f64> = x.as_slice().iter().map(|&v| v.into()).collect();
    let fx = finite_diff(&xs, h.into(), |p| {
        let xp = Tensor::from_vec(p.iter().map(|&v| v as f32).collect()).unwrap();
        loss(&layer, &xp)
    });
    let ws: Vec<f64> = layer.weight.as_slice().iter().map(|&v| v.into()).collect();
    let fw = finite_diff(&ws, h.into(), |p| {
        let mut l = layer.clone();
        l.weight = Tensor::from_vec(p.iter().map(|&v| v as f32).collect()).unwrap();
        loss(&l, &x)
    });
    let to64 = |t: &[f32]| t.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
    assert!(rel_err(&to64(dx.as_slice()), &fx) < 1e-2);
    assert!(rel_err(&to64(grads.weight.as_slice()), &fw) < 1e-2);
}

fn check_golden<N, DI, DO>(tag: &str)
where
    N: ConstDim,
    DI: ConstDim,
    DO: ConstDim,
{
    let g = golden("affine_relu.txt");
    let v = |k: &str| &g[&format!("{tag}.{k}")].values;
    assert_eq!(g[&format!("{tag}.x")].dims, vec![N::SIZE, DI::SIZE]);
    let layer = Affine::<DI, DO, f64>::new(t(v("w")), t(v("b")));
    let x = t::<(N, DI)>(v("x"));
    let z = layer.forward(&x);
    let y = ReLU.forward(&z);
    let dz = ReLU.backward(&z, &t::<(N, DO)>(v("dy")));
    let (dx, grads) = layer.backward(&x, &dz);
    for (name, got) in [
        ("z", z.as_slice()),
        ("y", y.as_slice()),
        ("dz", dz.as_slice()),
        ("dx", dx.as_slice()),
        ("dw", grads.weight.as_slice()),
        ("db", grads.bias.as_slice()),
    ] {
        let e = rel_err(got, v(name));
        assert!(e < 1e-9, "{tag}.{name}: relative error {e:e}");
    }
}

// Golden values: tests/golden/make_golden.py, PyTorch autograd in float64 (version in the file).
#[test]
fn affine_relu_matches_pytorch_small() {
    check_golden::<U4, U5, U3>("small");
}

#[test]
fn affine_relu_matches_pytorch_wide() {
    check_golden::<U7, U33, U17>("wide");
}

#[test]
fn relu_gradient_at_zero_is_zero_as_in_pytorch() {
    let g = golden("affine_relu.txt");
    let x = t::<(U2, U3)>(&g["relu0.x"].values);
    let dy = t::<(U2, U3)>(&g["relu0.dy"].values);
    assert_eq!(ReLU.backward(&x, &dy).as_slice(), &g["relu0.dx"].values[..]);
}
