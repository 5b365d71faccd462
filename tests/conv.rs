//! Convolution gradients: PyTorch float64 golden values over 16 configurations (stride 1, 2,
//! 3; padding 0, 1, 2; non-square kernel and input; 1×1 with stride 2; a kernel filling the
//! padded input; a stride leaving a remainder; C, K, N > 1; padding wider than the kernel
//! reaches; strided inputs wide enough for the plane-by-plane dX), finite differences, and f32.

mod common;
use common::{dot, finite_diff, golden, rel_err, train_pass, Record};
use shaped::{typenum::*, Conv, Tensor};
use std::collections::HashMap;
use std::sync::OnceLock;

fn golden_conv() -> &'static HashMap<String, Record> {
    static G: OnceLock<HashMap<String, Record>> = OnceLock::new();
    // Golden values: tests/golden/make_golden.py, torch.nn.functional.conv2d and autograd in
    // float64 (the torch version is in the file's first line).
    G.get_or_init(|| golden("conv.txt"))
}

macro_rules! conv_case {
    ($test:ident, $tag:literal, $n:ty, $c:ty, $h:ty, $w:ty, $k:ty, $hf:ty, $wf:ty, $s:ty, $p:ty) => {
        #[test]
        fn $test() {
            let g = golden_conv();
            let v = |k: &str| &g[&format!("{}.{k}", $tag)].values;
            let conv = Conv::<$c, $k, $hf, $wf, $s, $p, f64>::new(
                Tensor::from_vec(v("w").clone()).unwrap(),
                Tensor::from_vec(v("b").clone()).unwrap(),
            );
            let x = Tensor::<($n, $c, $h, $w), f64>::from_vec(v("x").clone()).unwrap();
            let y = conv.forward(&x);
            assert_eq!(
                y.dims(),
                &g[&format!("{}.y", $tag)].dims[..],
                "output shape"
            );
            // dy has the output's type; a checked argument is not inferred from the call.
            let mut dy = y.clone();
            dy.as_mut_slice().copy_from_slice(v("dy"));
            let (dx, grads) = conv.backward(&x, &dy);
            for (name, got) in [
                ("y", y.as_slice()),
                ("dx", dx.as_slice()),
                ("dw", grads.weight.as_slice()),
                ("db", grads.bias.as_slice()),
            ] {
                let e = rel_err(got, v(name));
                assert!(e < 1e-9, "{}.{name}: relative error {e:e}", $tag);
            }

            // The training path (the lowering kept from forward to backward) agrees exactly.
            let mut conv = conv;
            let (y2, dx2, grads2) = train_pass(&mut conv, &x, |_| dy.clone());
            assert_eq!(y2, y);
            assert_eq!(dx2, dx);
            assert_eq!(grads2, grads);

            // The same configuration in f32 agrees to single precision.
            let to32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let conv32 = Conv::<$c, $k, $hf, $wf, $s, $p, f32>::new(
                Tensor::from_vec(to32(v("w"))).unwrap(),
                Tensor::from_vec(to32(v("b"))).unwrap(),
            );
            let x32 = Tensor::<($n, $c, $h, $w), f32>::from_vec(to32(v("x"))).unwrap();
            let y32 = conv32.forward(&x32);
            let mut dy32 = y32.clone();
            dy32.as_mut_slice().copy_from_slice(&to32(v("dy")));
            let (dx32, g32) = conv32.backward(&x32, &dy32);
            let to64 = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
            assert!(rel_err(&to64(y32.as_slice()), v("y")) < 1e-5);
            assert!(rel_err(&to64(dx32.as_slice()), v("dx")) < 1e-5);
            assert!(rel_err(&to64(g32.weight.as_slice()), v("dw")) < 1e-5);
        }
    };
}

#[rustfmt::skip]
conv_case!(stride1_pad0, "s1p0", U2, U3, U7, U7, U4, U3, U3, U1, U0);
#[rustfmt::skip]
conv_case!(stride1_pad1, "s1p1", U2, U2, U6, U6, U3, U3, U3, U1, U1);
#[rustfmt::skip]
conv_case!(stride2_pad1, "s2p1", U2, U3, U8, U8, U4, U3, U3, U2, U1);
#[rustfmt::skip]
conv_case!(stride3_pad2, "s3p2", U1, U2, U10, U10, U2, U3, U3, U3, U2);
#[rustfmt::skip]
conv_case!(
    non_square_kernel,
    "kernel_2x4",
    U2,
    U2,
    U7,
    U9,
    U3,
    U2,
    U4,
    U1,
    U1
);
#[rustfmt::skip]
conv_case!(
    non_square_input,
    "input_5x11",
    U2,
    U1,
    U5,
    U11,
    U2,
    U3,
    U3,
    U2,
    U0
);
#[rustfmt::skip]
conv_case!(
    one_by_one_kernel_stride2,
    "k1_s2",
    U2,
    U4,
    U6,
    U6,
    U3,
    U1,
    U1,
    U2,
    U0
);
#[rustfmt::skip]
conv_case!(
    kernel_fills_padded_input,
    "kernel_fills_padded_input",
    U2,
    U2,
    U3,
    U3,
    U2,
    U5,
    U5,
    U1,
    U1
);
#[rustfmt::skip]
conv_case!(
    stride_leaves_a_remainder,
    "stride_remainder",
    U2,
    U2,
    U8,
    U8,
    U2,
    U3,
    U3,
    U3,
    U0
);
#[rustfmt::skip]
conv_case!(stride2_pad2, "s2p2", U3, U2, U7, U6, U3, U3, U3, U2, U2);
#[rustfmt::skip]
conv_case!(pointwise, "pointwise", U2, U3, U4, U5, U2, U1, U1, U1, U0);
#[rustfmt::skip]
conv_case!(
    kernel5_stride2_pad2,
    "k5_s2p2",
    U4,
    U3,
    U12,
    U12,
    U5,
    U5,
    U5,
    U2,
    U2
);
#[rustfmt::skip]
conv_case!(lenet_like, "lenet", U2, U1, U12, U12, U3, U5, U5, U1, U0);
#[rustfmt::skip]
conv_case!(
    padding_beyond_kernel_reach,
    "padding_beyond_kernel_reach",
    U2,
    U2,
    U4,
    U3,
    U2,
    U1,
    U7,
    U1,
    U2
);
// Strided with enough wide positions (HO · ⌈(W + 2P)/S⌉ = 120 and 110) that the backward pass
// computes dX plane by plane.
#[rustfmt::skip]
conv_case!(stride2_wide, "s2p1_wide", U2, U3, U20, U22, U4, U3, U3, U2, U1);
#[rustfmt::skip]
conv_case!(stride3_wide, "s3p1_wide", U2, U2, U30, U31, U3, U3, U3, U3, U1);

/// Finite differences of `L = Σ conv(x) ∘ G` for one geometry, in f64.
macro_rules! fd_case {
    ($test:ident, $n:ty, $c:ty, $h:ty, $w:ty, $k:ty, $hf:ty, $wf:ty, $s:ty, $p:ty) => {
        #[test]
        fn $test() {
            type L = Conv<$c, $k, $hf, $wf, $s, $p, f64>;
            let conv = L::new(
                Tensor::from_fn(|i| ((i[0] * 13 + i[1] * 7 + i[2] * 3 + i[3]) as f64 * 0.37).sin()),
                Tensor::from_fn(|i| i[0] as f64 * 0.1),
            );
            let x = Tensor::<($n, $c, $h, $w), f64>::from_fn(|i| {
                ((i[0] * 101 + i[1] * 31 + i[2] * 7 + i[3]) as f64 * 0.23).cos()
            });
            let y = conv.forward(&x);
            let gy: Vec<f64> = (0..y.as_slice().len())
                .map(|i| (i as f64 * 0.61).sin())
                .collect();
            let mut dy = y.clone();
            dy.as_mut_slice().copy_from_slice(&gy);
            let (dx, grads) = conv.backward(&x, &dy);
            let loss =
                |conv: &L, x: &Tensor<($n, $c, $h, $w), f64>| dot(conv.forward(x).as_slice(), &gy);
            let h = 1e-6;
            let fx = finite_diff(x.as_slice(), h, |p| {
                loss(&conv, &Tensor::from_vec(p.to_vec()).unwrap())
            });
            let fw = finite_diff(conv.weight.as_slice(), h, |p| {
                let mut c = conv.clone();
                c.weight = Tensor::from_vec(p.to_vec()).unwrap();
                loss(&c, &x)
            });
            let fb = finite_diff(conv.bias.as_slice(), h, |p| {
                let mut c = conv.clone();
                c.bias = Tensor::from_vec(p.to_vec()).unwrap();
                loss(&c, &x)
            });
            assert!(
                rel_err(dx.as_slice(), &fx) < 1e-6,
                "dx {:e}",
                rel_err(dx.as_slice(), &fx)
            );
            assert!(rel_err(grads.weight.as_slice(), &fw) < 1e-6, "dw");
            assert!(rel_err(grads.bias.as_slice(), &fb) < 1e-6, "db");
        }
    };
}

#[rustfmt::skip]
fd_case!(
    finite_differences_stride2_pad1,
    U2,
    U2,
    U7,
    U6,
    U3,
    U3,
    U3,
    U2,
    U1
);
#[rustfmt::skip]
fd_case!(
    finite_differences_stride3_remainder,
    U1,
    U3,
    U8,
    U9,
    U2,
    U2,
    U3,
    U3,
    U0
);
// dX plane by plane (120 wide positions).
#[rustfmt::skip]
fd_case!(finite_differences_stride2_wide, U2, U3, U20, U22, U4, U3, U3, U2, U1);
#[rustfmt::skip]
fd_case!(
    finite_differences_pointwise,
    U2,
    U3,
    U3,
    U4,
    U2,
    U1,
    U1,
    U1,
    U0
);
#[rustfmt::skip]
fd_case!(
    finite_differences_kernel_fills_input,
    U2,
    U2,
    U3,
    U4,
    U2,
    U5,
    U6,
    U1,
    U1
);

#[test]
fn single_sample_and_large_batch_agree_with_per_sample_calls() {
    // A batch of 5 on 2 threads splits unevenly; each sample must match its own call.
    let conv = Conv::<U2, U3, U3, U3, U2, U1, f64>::new(
        Tensor::from_fn(|i| (i[0] + i[1] + i[2] * i[3]) as f64 * 0.1),
        Tensor::full(0.5),
    );
    let x = Tensor::<(U5, U2, U6, U6), f64>::from_fn(|i| {
        ((i[0] * 72 + i[1] * 36 + i[2] * 6 + i[3]) as f64).sin()
    });
    let y = conv.forward(&x);
    let (dx, g) = conv.backward(&x, &y);
    let mut dw_sum = vec![0.0; g.weight.as_slice().len()];
    for n in 0..5 {
        let xn =
            Tensor::<(U1, U2, U6, U6), f64>::from_vec(x.as_slice()[n * 72..(n + 1) * 72].to_vec())
                .unwrap();
        let yn = conv.forward(&xn);
        assert_eq!(yn.as_slice(), &y.as_slice()[n * 27..(n + 1) * 27]);
        let (dxn, gn) = conv.backward(&xn, &yn);
        assert!(rel_err(dxn.as_slice(), &dx.as_slice()[n * 72..(n + 1) * 72]) < 1e-14);
        dw_sum
            .iter_mut()
            .zip(gn.weight.as_slice())
            .for_each(|(a, b)| *a += b);
    }
    assert!(rel_err(g.weight.as_slice(), &dw_sum) < 1e-12);
}

// Stride 2, padding 2, a 6-wide kernel on a 2-wide input: some kernel columns only see padding.
#[rustfmt::skip]
fd_case!(finite_differences_padding_only_columns, U1, U2, U3, U2, U2, U3, U6, U2, U2);
