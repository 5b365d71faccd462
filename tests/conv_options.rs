//! Convolution and pooling options: dilated (stride 1 and 2), grouped, depthwise and bias-free
//! `Conv2d`; padded and non-square `MaxPool2dHW` / `AvgPool2dHW`; `GlobalAvgPool`. Checked
//! against PyTorch float64 (forward, input, weight and bias gradients), on a `Dyn` batch and
//! `Dyn` spatial sizes, by finite differences, against the dense layers they generalise, and
//! through a PyTorch model of them loaded from safetensors.

mod common;
use common::{dot, finite_diff, golden, rel_err, train_pass, Record};
use shaped::{io, softmax_cross_entropy, typenum::*, Affine, AvgPool2d, AvgPool2dHW, Bias};
use shaped::{Conv, Conv2d, ConvBias, Dyn, GlobalAvgPool, MaxPool2d, MaxPool2dHW, Module};
use shaped::{NoBias, Params, ReLU, Seeded, Shape, Tensor, Tensors};
use std::collections::HashMap;
use std::sync::OnceLock;

fn gold() -> &'static HashMap<String, Record> {
    static G: OnceLock<HashMap<String, Record>> = OnceLock::new();
    // Golden values: tests/golden/make_golden.py, torch.nn.functional.conv2d, max_pool2d,
    // avg_pool2d, adaptive_avg_pool2d and autograd in float64 (the torch version is in the
    // file's first line).
    G.get_or_init(|| golden("conv_options.txt"))
}

/// The values of record `tag.name`.
fn v(tag: &str, name: &str) -> &'static [f64] {
    &gold()[&format!("{tag}.{name}")].values
}

fn t<S: Shape>(values: &[f64]) -> Tensor<S, f64> {
    Tensor::from_vec(values.to_vec()).unwrap()
}

/// `like`, holding `values` (a gradient of the output's type: a checked argument is not
/// inferred from the call).
fn with_values<S: Shape>(like: &Tensor<S, f64>, values: &[f64]) -> Tensor<S, f64> {
    let mut out = like.clone();
    out.as_mut_slice().copy_from_slice(values);
    out
}

fn close(got: &[f64], tag: &str, name: &str, tol: f64) {
    let e = rel_err(got, v(tag, name));
    assert!(e < tol, "{tag}.{name}: relative error {e:e}");
}

/// One `Conv2d` configuration against PyTorch: forward, `dX`, `dW`, `db` (or no bias on either
/// side); the training path agrees exactly; f32 agrees to single precision.
macro_rules! conv2d_case {
    ($test:ident, $tag:literal, ($n:ty, $c:ty, $h:ty, $w:ty), $k:ty, ($hf:ty, $wf:ty), $s:ty, $p:ty, $d:ty, $g:ty, $b:ty) => {
        #[test]
        fn $test() {
            type L<E> = Conv2d<$c, $k, $hf, $wf, $s, $p, $d, $g, $b, E>;
            let tag = $tag;
            // `make` asks for the golden bias only when the layer has one.
            let conv = L::<f64>::new(
                t(v(tag, "w")),
                <$b as ConvBias<$k, f64>>::make(|| t(v(tag, "b"))),
            );
            let x = t::<($n, $c, $h, $w)>(v(tag, "x"));
            let y = conv.forward(&x);
            assert_eq!(
                y.dims(),
                &gold()[&format!("{tag}.y")].dims[..],
                "output shape"
            );
            let dy = with_values(&y, v(tag, "dy"));
            let (dx, grads) = conv.backward(&x, &dy);
            close(y.as_slice(), tag, "y", 1e-9);
            close(dx.as_slice(), tag, "dx", 1e-9);
            close(grads.weight.as_slice(), tag, "dw", 1e-9);
            match (
                <$b as ConvBias<$k, f64>>::tensor(&grads.bias),
                gold().get(&format!("{tag}.db")),
            ) {
                (Some(db), Some(want)) => {
                    let e = rel_err(db.as_slice(), &want.values);
                    assert!(e < 1e-9, "{tag}.db: relative error {e:e}");
                }
                (None, None) => assert_eq!(grads.count(), 1, "only dW"),
                _ => panic!("{tag}: a bias on one side only"),
            }

            // The training path (the lowering kept from forward to backward) agrees exactly.
            let mut conv = conv;
            let (y2, dx2, grads2) = train_pass(&mut conv, &x, |_| dy.clone());
            assert_eq!(y2, y);
            assert_eq!(dx2, dx);
            assert_eq!(grads2, grads);

            // The same configuration in f32 agrees to single precision.
            let to32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let to64 = |v: &[f32]| v.iter().map(|&a| f64::from(a)).collect::<Vec<f64>>();
            let conv32 = L::<f32>::new(
                Tensor::from_vec(to32(v(tag, "w"))).unwrap(),
                <$b as ConvBias<$k, f32>>::make(|| Tensor::from_vec(to32(v(tag, "b"))).unwrap()),
            );
            let x32 = Tensor::<($n, $c, $h, $w), f32>::from_vec(to32(v(tag, "x"))).unwrap();
            let y32 = conv32.forward(&x32);
            let mut dy32 = y32.clone();
            dy32.as_mut_slice().copy_from_slice(&to32(v(tag, "dy")));
            let (dx32, g32) = conv32.backward(&x32, &dy32);
            assert!(rel_err(&to64(y32.as_slice()), v(tag, "y")) < 1e-5);
            assert!(rel_err(&to64(dx32.as_slice()), v(tag, "dx")) < 1e-5);
            assert!(rel_err(&to64(g32.weight.as_slice()), v(tag, "dw")) < 1e-5);
        }
    };
}

#[rustfmt::skip]
conv2d_case!(dilation2_matches_pytorch, "dil2", (U2, U2, U7, U7), U3, (U3, U3), U1, U2, U2, U1, Bias);
#[rustfmt::skip]
conv2d_case!(dilation2_stride2_matches_pytorch, "dil2_s2", (U2, U3, U9, U8), U4, (U3, U3), U2, U1, U2, U1, Bias);
#[rustfmt::skip]
conv2d_case!(dilation3_non_square_kernel_matches_pytorch, "dil3_kernel_2x3", (U1, U2, U8, U10), U2, (U2, U3), U1, U0, U3, U1, Bias);
#[rustfmt::skip]
conv2d_case!(two_groups_match_pytorch, "groups2", (U2, U4, U6, U6), U6, (U3, U3), U1, U1, U1, U2, Bias);
#[rustfmt::skip]
conv2d_case!(depthwise_matches_pytorch, "depthwise", (U2, U3, U6, U5), U3, (U3, U3), U1, U1, U1, U3, Bias);
#[rustfmt::skip]
conv2d_case!(depthwise_with_two_filters_a_channel_matches_pytorch, "depthwise_x2", (U2, U2, U5, U5), U4, (U3, U3), U2, U1, U1, U2, Bias);
#[rustfmt::skip]
conv2d_case!(grouped_dilated_strided_without_bias_matches_pytorch, "groups_dil_s2_nobias", (U3, U6, U9, U9), U4, (U3, U3), U2, U2, U2, U2, NoBias);
#[rustfmt::skip]
conv2d_case!(without_bias_matches_pytorch, "nobias", (U2, U3, U6, U6), U4, (U3, U3), U1, U1, U1, U1, NoBias);
#[rustfmt::skip]
conv2d_case!(pointwise_in_two_groups_matches_pytorch, "pointwise_groups", (U2, U4, U3, U4), U6, (U1, U1), U1, U0, U1, U2, Bias);

/// The dilated, strided case of the goldens on a batch counted at run time.
type Dilated2Stride2 = Conv2d<U3, U4, U3, U3, U2, U1, U2, U1, Bias, f64>;

fn dilated2_stride2() -> Dilated2Stride2 {
    Conv2d::new(t(v("dil2_s2", "w")), t(v("dil2_s2", "b")))
}

#[test]
fn a_dyn_batch_matches_pytorch_dilated_stride2() {
    let conv = dilated2_stride2();
    let x = t::<(Dyn, U3, U9, U8)>(v("dil2_s2", "x")); // 2 samples, counted at run time
    let y = conv.forward(&x);
    assert_eq!(y.dims(), [2, 4, 4, 3]);
    let dy = with_values(&y, v("dil2_s2", "dy"));
    let (dx, grads) = conv.backward(&x, &dy);
    close(y.as_slice(), "dil2_s2", "y", 1e-9);
    close(dx.as_slice(), "dil2_s2", "dx", 1e-9);
    close(grads.weight.as_slice(), "dil2_s2", "dw", 1e-9);
    close(grads.bias.as_slice(), "dil2_s2", "db", 1e-9);
    let mut conv = conv;
    let (y2, dx2, grads2) = train_pass(&mut conv, &x, |_| dy.clone());
    assert_eq!((y2, dx2, grads2), (y, dx, grads));
}

#[test]
fn a_dyn_batch_matches_pytorch_grouped_dilated_without_bias() {
    let tag = "groups_dil_s2_nobias";
    let mut conv = Conv2d::<U6, U4, U3, U3, U2, U2, U2, U2, NoBias, f64>::new(t(v(tag, "w")), ());
    let x = t::<(Dyn, U6, U9, U9)>(v(tag, "x"));
    let (y, dx, grads) = train_pass(&mut conv, &x, |y| with_values(y, v(tag, "dy")));
    assert_eq!(y.dims(), [3, 4, 5, 5]);
    close(y.as_slice(), tag, "y", 1e-9);
    close(dx.as_slice(), tag, "dx", 1e-9);
    close(grads.weight.as_slice(), tag, "dw", 1e-9);
}

#[test]
fn dyn_height_and_width_get_the_dilated_output_size_at_run_time() {
    let conv = dilated2_stride2();
    let x = Tensor::<(U2, U3, Dyn, Dyn), f64>::from_fn_with(
        (U2::default(), U3::default(), Dyn(9), Dyn(8)),
        |i| v("dil2_s2", "x")[((i[0] * 3 + i[1]) * 9 + i[2]) * 8 + i[3]],
    );
    let y = conv.forward(&x);
    // ⌊(9 + 2 − 5) / 2⌋ + 1 = 4 rows, ⌊(8 + 2 − 5) / 2⌋ + 1 = 3 columns
    assert_eq!(y.dims(), [2, 4, 4, 3]);
    close(y.as_slice(), "dil2_s2", "y", 1e-9);
}

#[test]
#[should_panic(
    expected = "dilated kernel height 5 (D·(HF − 1) + 1) is larger than the padded input height 4 (H + 2P) in Conv"
)]
fn a_dyn_input_too_small_for_the_dilated_kernel_panics_in_the_rules_words() {
    let conv = dilated2_stride2();
    let x = Tensor::<(U1, U3, Dyn, U8), f64>::zeros_with((
        U1::default(),
        U3::default(),
        Dyn(2),
        U8::default(),
    ));
    let _ = conv.forward(&x);
}

#[test]
#[should_panic(
    expected = "shape mismatch in Conv grad_output: expected (2, 4, 4, 3) (N, K, HO, WO), found (1, 4, 4, 3)"
)]
fn a_grouped_conv_given_a_dy_of_another_dyn_batch_panics_in_the_rules_words() {
    let conv = dilated2_stride2();
    let x = t::<(Dyn, U3, U9, U8)>(v("dil2_s2", "x"));
    let dy = Tensor::<(Dyn, U4, U4, U3), f64>::from_vec(vec![0.0; 48]).unwrap();
    let _ = conv.backward(&x, &dy);
}

/// Finite differences of `L = Σ conv(x) ∘ G` for one `Conv2d` geometry, in f64: `dX`, `dW`
/// and, when there is one, `db`.
macro_rules! fd_case {
    ($test:ident, ($n:ty, $c:ty, $h:ty, $w:ty), $k:ty, ($hf:ty, $wf:ty), $s:ty, $p:ty, $d:ty, $g:ty, $b:ty) => {
        #[test]
        fn $test() {
            type L = Conv2d<$c, $k, $hf, $wf, $s, $p, $d, $g, $b, f64>;
            let conv = L::new(
                Tensor::from_fn(|i| ((i[0] * 13 + i[1] * 7 + i[2] * 3 + i[3]) as f64 * 0.37).sin()),
                <$b as ConvBias<$k, f64>>::make(|| Tensor::from_fn(|i| i[0] as f64 * 0.1 - 0.2)),
            );
            let x = Tensor::<($n, $c, $h, $w), f64>::from_fn(|i| {
                ((i[0] * 101 + i[1] * 31 + i[2] * 7 + i[3]) as f64 * 0.23).cos()
            });
            let y = conv.forward(&x);
            let gy: Vec<f64> = (0..y.as_slice().len())
                .map(|i| (i as f64 * 0.61).sin())
                .collect();
            let (dx, grads) = conv.backward(&x, &with_values(&y, &gy));
            let loss =
                |conv: &L, x: &Tensor<($n, $c, $h, $w), f64>| dot(conv.forward(x).as_slice(), &gy);
            let h = 1e-6;
            let fx = finite_diff(x.as_slice(), h, |p| loss(&conv, &t(p)));
            let fw = finite_diff(conv.weight.as_slice(), h, |p| {
                let mut c = conv.clone();
                c.weight = t(p);
                loss(&c, &x)
            });
            assert!(
                rel_err(dx.as_slice(), &fx) < 1e-6,
                "dx {:e}",
                rel_err(dx.as_slice(), &fx)
            );
            assert!(rel_err(grads.weight.as_slice(), &fw) < 1e-6, "dw");
            // The check can fail: the weight gradient of another filter is far off.
            assert!(rel_err(&grads.weight.as_slice()[1..], &fw[..fw.len() - 1]) > 1e-3);
            if let Some(b) = <$b as ConvBias<$k, f64>>::tensor(&conv.bias) {
                let fb = finite_diff(b.as_slice(), h, |p| {
                    let mut c = conv.clone();
                    *<$b as ConvBias<$k, f64>>::tensor_mut(&mut c.bias).unwrap() = t(p);
                    loss(&c, &x)
                });
                let db = <$b as ConvBias<$k, f64>>::tensor(&grads.bias).unwrap();
                assert!(rel_err(db.as_slice(), &fb) < 1e-6, "db");
            }
        }
    };
}

#[rustfmt::skip]
fd_case!(finite_differences_dilated_stride2_padding1, (U2, U2, U8, U7), U3, (U3, U3), U2, U1, U2, U1, Bias);
#[rustfmt::skip]
fd_case!(finite_differences_grouped_dilated_without_bias, (U2, U4, U7, U7), U6, (U3, U2), U1, U2, U3, U2, NoBias);
#[rustfmt::skip]
fd_case!(finite_differences_depthwise_stride2, (U1, U3, U6, U7), U3, (U3, U3), U2, U1, U1, U3, Bias);

#[test]
fn conv2d_with_the_defaults_computes_what_conv_does_bit_for_bit() {
    let w = Tensor::<(U4, U3, U3, U3)>::from_fn(|i| {
        ((i[0] * 27 + i[1] * 9 + i[2] * 3 + i[3]) as f32 * 0.7).sin()
    });
    let b = Tensor::<(U4,)>::from_fn(|i| i[0] as f32 * 0.1);
    let conv = Conv::<U3, U4, U3, U3, U2, U1>::new(w.clone(), b.clone());
    let conv2d = Conv2d::<U3, U4, U3, U3, U2, U1>::new(w, b);
    let x = Tensor::<(U5, U3, U9, U9)>::from_fn(|i| {
        ((i[0] * 243 + i[1] * 81 + i[2] * 9 + i[3]) as f32 * 0.3).cos()
    });
    let y = conv.forward(&x);
    assert_eq!(conv2d.forward(&x), y);
    let (dx, grads) = conv.backward(&x, &y);
    let (dx2, grads2) = conv2d.backward(&x, &y);
    assert_eq!(dx2, dx);
    assert_eq!(grads2.weight, grads.weight);
    assert_eq!(grads2.bias, grads.bias);
}

#[test]
fn a_convolution_without_bias_has_only_a_weight_under_pytorchs_name() {
    let conv = Conv2d::<U2, U4, U3, U3, U1, U1, U1, U2, NoBias>::seeded(0);
    let mut names = Vec::new();
    conv.visit("", &mut |name, dims, _| {
        names.push((name.to_string(), dims.to_vec()))
    });
    assert_eq!(names, [("weight".to_string(), vec![4, 1, 3, 3])]);
    assert_eq!((conv.count(), conv.zero_grads().count()), (1, 1));
    let with_bias = Conv2d::<U2, U4, U3, U3, U1, U1, U1, U2>::seeded(0);
    let mut names = Vec::new();
    with_bias.visit("", &mut |name, _, _| names.push(name.to_string()));
    assert_eq!(names, ["weight", "bias"]);
}

#[test]
fn init_draws_from_one_groups_fan_in_as_pytorch() {
    // Depthwise 3 × 3 over 64 channels: fan_in = C/G·HF·WF = 9, so U(−1/3, 1/3); the fan-in of
    // all 64 channels (576) would give bounds of 1/24.
    let conv = Conv2d::<U64, U64, U3, U3, U1, U1, U1, U64>::seeded(1);
    let max = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(max(conv.weight.as_slice()) <= 1.0 / 3.0);
    assert!(max(conv.weight.as_slice()) > 0.3);
    assert!(max(conv.bias.as_slice()) <= 1.0 / 3.0);
    assert!(max(conv.bias.as_slice()) > 0.2);
}

/// One pooling against PyTorch through the training path (forward, then `dX`), and `infer`
/// agreeing; finite differences of `L = Σ y ∘ dy`.
macro_rules! pool_case {
    ($test:ident, $tag:literal, $layer:ty, ($n:ty, $c:ty, $h:ty, $w:ty)) => {
        #[test]
        fn $test() {
            let tag = $tag;
            let x = t::<($n, $c, $h, $w)>(v(tag, "x"));
            let mut layer = <$layer>::new();
            let (y, dx, ()) = train_pass(&mut layer, &x, |y| with_values(y, v(tag, "dy")));
            assert_eq!(
                y.dims(),
                &gold()[&format!("{tag}.y")].dims[..],
                "output shape"
            );
            close(y.as_slice(), tag, "y", 1e-12);
            close(dx.as_slice(), tag, "dx", 1e-12);
            assert_eq!(layer.infer(&x), y);
            // Random inputs are distinct: a maximum does not switch within the step.
            let fx = finite_diff(x.as_slice(), 1e-6, |p| {
                dot(
                    layer.infer(&t::<($n, $c, $h, $w)>(p)).as_slice(),
                    v(tag, "dy"),
                )
            });
            assert!(rel_err(dx.as_slice(), &fx) < 1e-6);
        }
    };
}

#[rustfmt::skip]
pool_case!(max_pool_3x3_stride2_padding1_matches_pytorch, "maxpad_k3s2p1", MaxPool2dHW<U3, U3, U2, U2, U1, U1>, (U2, U2, U7, U7));
#[rustfmt::skip]
pool_case!(max_pool_of_a_2x1_window_matches_pytorch, "maxpad_2x1", MaxPool2dHW<U2, U1>, (U1, U2, U6, U5));
#[rustfmt::skip]
pool_case!(max_pool_3x2_stride_2x1_padding_1x0_matches_pytorch, "maxpad_3x2_s21_p10", MaxPool2dHW<U3, U2, U2, U1, U1, U0>, (U2, U1, U7, U6));
#[rustfmt::skip]
pool_case!(avg_pool_3x3_padding1_counts_the_padding_as_pytorch, "avgpad_k3s1p1", AvgPool2dHW<U3, U3, U1, U1, U1, U1>, (U2, U2, U5, U5));
#[rustfmt::skip]
pool_case!(avg_pool_3x2_stride2_padding1_matches_pytorch, "avgpad_3x2_s2_p11", AvgPool2dHW<U3, U2, U2, U2, U1, U1>, (U1, U3, U6, U7));

#[test]
fn max_pool_pads_with_minus_infinity_not_zero() {
    let x = Tensor::<(U1, U1, U4, U4), f64>::full(-1.0);
    let y = MaxPool2dHW::<U3, U3, U2, U2, U1, U1>::new().infer(&x);
    assert_eq!(y.as_slice(), &[-1.0; 4]); // zero padding would give 0 in every window
}

#[test]
fn the_per_axis_pools_with_square_windows_and_no_padding_are_the_square_pools() {
    let x = Tensor::<(U2, U3, U9, U9), f64>::from_fn(|i| {
        ((i[0] * 243 + i[1] * 81 + i[2] * 9 + i[3]) as f64 * 0.77).sin()
    });
    let dy = |y: &Tensor<(U2, U3, U4, U4), f64>| y.clone();
    let max = train_pass(&mut MaxPool2d::<U3, U2>::new(), &x, dy);
    assert_eq!(
        train_pass(&mut MaxPool2dHW::<U3, U3, U2, U2>::new(), &x, dy),
        max
    );
    let avg = train_pass(&mut AvgPool2d::<U3, U2>::new(), &x, dy);
    assert_eq!(
        train_pass(&mut AvgPool2dHW::<U3, U3, U2, U2>::new(), &x, dy),
        avg
    );
    assert_ne!(max.0, avg.0);
}

#[test]
fn a_padded_pool_on_a_dyn_batch_matches_pytorch() {
    let tag = "maxpad_k3s2p1";
    let x = t::<(Dyn, U2, U7, U7)>(v(tag, "x"));
    let mut pool = MaxPool2dHW::<U3, U3, U2, U2, U1, U1>::new();
    let (y, dx, ()) = train_pass(&mut pool, &x, |y| with_values(y, v(tag, "dy")));
    assert_eq!(y.dims(), [2, 2, 4, 4]);
    close(y.as_slice(), tag, "y", 1e-12);
    close(dx.as_slice(), tag, "dx", 1e-12);
}

#[test]
fn global_avg_pool_matches_pytorch() {
    let x = t::<(U3, U4, U5, U6)>(v("gap", "x"));
    let y: Tensor<(U3, U4), f64> = GlobalAvgPool.forward(&x);
    let dy = t::<(U3, U4)>(v("gap", "dy"));
    let dx = GlobalAvgPool.backward(&x, &dy);
    close(y.as_slice(), "gap", "y", 1e-12);
    close(dx.as_slice(), "gap", "dx", 1e-12);
    let (y2, dx2, ()) = train_pass(&mut GlobalAvgPool, &x, |_| dy.clone());
    assert_eq!((y2, dx2), (y, dx));
    let fx = finite_diff(x.as_slice(), 1e-6, |p| {
        dot(
            GlobalAvgPool.forward(&t::<(U3, U4, U5, U6)>(p)).as_slice(),
            dy.as_slice(),
        )
    });
    assert!(rel_err(GlobalAvgPool.backward(&x, &dy).as_slice(), &fx) < 1e-6);
}

#[test]
fn global_avg_pool_on_a_dyn_batch_matches_pytorch() {
    let x = t::<(Dyn, U4, U5, U6)>(v("gap", "x"));
    let (y, dx, ()) = train_pass(&mut GlobalAvgPool, &x, |y| with_values(y, v("gap", "dy")));
    assert_eq!(y.dims(), [3, 4]);
    close(y.as_slice(), "gap", "y", 1e-12);
    close(dx.as_slice(), "gap", "dx", 1e-12);
}

#[test]
#[should_panic(
    expected = "shape mismatch in grad_output: expected (3, 4) (the layer's output shape), found (2, 4)"
)]
fn global_avg_pool_given_a_dy_of_another_dyn_batch_panics_in_the_rules_words() {
    let x = t::<(Dyn, U4, U5, U6)>(v("gap", "x"));
    let dy = Tensor::<(Dyn, U4), f64>::from_vec(vec![0.0; 8]).unwrap();
    let _ = GlobalAvgPool.backward(&x, &dy);
}

/// The PyTorch model of tests/golden/make_golden.py's `options_model`: a bias-free grouped
/// dilated convolution, ResNet's stem pool, global pooling (PyTorch's `AdaptiveAvgPool2d(1)` and
/// `Flatten` in one `nn.Sequential`, index 3) and a linear layer.
type OptionsCnn = (
    Conv2d<U2, U4, U3, U3, U1, U2, U2, U2, NoBias, f64>,
    ReLU,
    MaxPool2dHW<U3, U3, U2, U2, U1, U1>,
    GlobalAvgPool,
    Affine<U4, U3, f64>,
);

#[test]
fn a_pytorch_model_of_the_options_loads_and_its_gradients_match_pytorch() {
    let mut model = OptionsCnn::seeded(0);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/torch_options_cnn.safetensors");
    // The file has `0.weight` and no `0.bias`: a model expecting one would fail to load.
    io::load(&mut model, path).unwrap();
    let mut names = Vec::new();
    model.visit("", &mut |name, _, _| names.push(name.to_string()));
    assert_eq!(names, ["0.weight", "4.weight", "4.bias"]);
    let x = t::<(U2, U2, U7, U7)>(v("options_model", "x"));
    let mut loss = 0.0;
    let (logits, _, grads) = train_pass(&mut model, &x, |logits| {
        let (l, dlogits) = softmax_cross_entropy(logits, &[1, 2]).unwrap();
        loss = l;
        dlogits
    });
    close(logits.as_slice(), "options_model", "logits", 1e-12);
    close(&[loss], "options_model", "loss", 1e-12);
    close(
        grads.0.weight.as_slice(),
        "options_model",
        "grad.0.weight",
        1e-10,
    );
    close(
        grads.4.weight.as_slice(),
        "options_model",
        "grad.4.weight",
        1e-10,
    );
    close(
        grads.4.bias.as_slice(),
        "options_model",
        "grad.4.bias",
        1e-10,
    );
}

/// An input without columns (`W = 0`, allowed by the types when the padding makes windows), or
/// without rows:
/// every window reads padding only, so the output is the bias, `dW` is zero, `db = Σ dy`, and
/// the input gradient is empty; stride 2 (phase planes), stride 1 with few filters (the padded
/// plane) and with many (the explicit lowering), stateless and through the training API.
#[test]
fn an_input_without_columns_gives_the_bias_at_every_window() {
    fn check<const K: usize, L, KT, H2, W2>(conv: L)
    where
        L: Module<f64, Tensor<(U2, U1, U5, U0), f64>, Out = Tensor<(U2, KT, H2, W2), f64>>
            + Tensors<f64>
            + Clone,
        KT: shaped::Dim,
        H2: shaped::Dim,
        W2: shaped::Dim,
    {
        let x = Tensor::<(U2, U1, U5, U0), f64>::zeros();
        let bias = conv.tensor(1).to_vec();
        let mut model = conv.clone();
        // dy = y: every output element is its filter's bias.
        let (y, dx, grads) = train_pass(&mut model, &x, |y| y.clone());
        let [_, k, ho, wo] = y.dims();
        assert_eq!(k, K);
        let positions = ho * wo;
        assert!(positions > 0, "windows of padding exist");
        for (i, v) in y.as_slice().iter().enumerate() {
            assert_eq!(*v, bias[(i / positions) % K], "y[{i}]");
        }
        assert!(dx.as_slice().is_empty());
        assert!(grads.tensor(0).iter().all(|&g| g == 0.0), "dW is zero");
        for (k, g) in grads.tensor(1).iter().enumerate() {
            let want = 2.0 * positions as f64 * bias[k];
            assert!((g - want).abs() < 1e-12, "db[{k}]: {g} against {want}");
        }
        assert_eq!(model.infer(&x), y);
    }
    // Stride 2 (phase planes) with 3 × 1 windows; stride 1 with 1 × 1 windows, 3 filters (the
    // padded plane) and 20 (the explicit lowering).
    check::<3, _, _, _, _>(Conv::<U1, U3, U3, U1, U2, U1, f64>::seeded(1));
    check::<3, _, _, _, _>(Conv::<U1, U3, U1, U1, U1, U1, f64>::seeded(2));
    check::<20, _, _, _, _>(Conv::<U1, U20, U1, U1, U1, U1, f64>::seeded(3));
    // The stateless calls.
    let conv = Conv::<U1, U3, U3, U1, U2, U1, f64>::seeded(1);
    let x = Tensor::<(U2, U1, U5, U0), f64>::zeros();
    let y = conv.forward(&x);
    let (dx, grads) = conv.backward(&x, &y);
    assert!(dx.as_slice().is_empty() && grads.weight.as_slice().iter().all(|&g| g == 0.0));
    // An input without rows, likewise: (2, 1, 0, 5) through 1 × 3 windows, stride 2, padding 1.
    let conv = Conv::<U1, U2, U1, U3, U2, U1, f64>::seeded(4);
    let x = Tensor::<(U2, U1, U0, U5), f64>::zeros();
    let y = conv.forward(&x);
    assert_eq!(y.dims(), [2, 2, 1, 3]);
    for (i, v) in y.as_slice().iter().enumerate() {
        assert_eq!(*v, conv.bias.as_slice()[(i / 3) % 2], "y[{i}]");
    }
    let (dx, grads) = conv.backward(&x, &y);
    assert!(dx.as_slice().is_empty() && grads.weight.as_slice().iter().all(|&g| g == 0.0));
    for (k, g) in grads.bias.as_slice().iter().enumerate() {
        assert!((g - 6.0 * conv.bias.as_slice()[k]).abs() < 1e-12, "db[{k}]");
    }
}

/// `y[n, k, oh, ow] = b[k] + Σ W[k, c', i, j] · Xp[n, g·C/G + c', oh·S + i·D, ow·S + j·D]`,
/// summed in f64: the definition the layers are checked against below.
#[allow(clippy::too_many_arguments)]
fn conv_definition(
    x: &[f32],
    [n, c, h, w]: [usize; 4],
    weight: &[f32],
    bias: Option<&[f32]>,
    [k, hf, wf]: [usize; 3],
    [s, p, d, groups]: [usize; 4],
) -> Vec<f64> {
    let ho = (h + 2 * p - d * (hf - 1) - 1) / s + 1;
    let wo = (w + 2 * p - d * (wf - 1) - 1) / s + 1;
    let (cg, kg) = (c / groups, k / groups);
    let mut y = Vec::with_capacity(n * k * ho * wo);
    for (ni, kk, oh, ow) in (0..n).flat_map(|ni| {
        (0..k)
            .flat_map(move |kk| (0..ho).flat_map(move |oh| (0..wo).map(move |ow| (ni, kk, oh, ow))))
    }) {
        let mut sum = bias.map_or(0.0, |b| f64::from(b[kk]));
        for (ci, i, j) in
            (0..cg).flat_map(|ci| (0..hf).flat_map(move |i| (0..wf).map(move |j| (ci, i, j))))
        {
            let (ih, iw) = (
                (oh * s + i * d).wrapping_sub(p),
                (ow * s + j * d).wrapping_sub(p),
            );
            if ih < h && iw < w {
                let ch = (kk / kg) * cg + ci;
                let xv = x[((ni * c + ch) * h + ih) * w + iw];
                sum += f64::from(weight[((kk * cg + ci) * hf + i) * wf + j]) * f64::from(xv);
            }
        }
        y.push(sum);
    }
    y
}

/// Output rows a multiple of the kernel's vectors long (16 f32 lanes on AVX-512, 8 on AVX2):
/// the forward pass writes the output in place through wrapped rows of the phase planes, with
/// no junk columns (stride 2, and stride 1 with few filters, which reads its padded plane); the
/// same layers with rows of other lengths go through the wide output. Each against the
/// definition, with and without bias, grouped and dilated, stateless and in training.
#[test]
fn convolutions_whose_output_rows_fill_whole_vectors_match_the_definition() {
    macro_rules! check {
        ($layer:ty, $seed:expr, $bias:expr, ($n:ty, $c:ty, $h:ty, $w:ty), $kernel:expr, $opts:expr) => {{
            let mut layer = <$layer>::seeded($seed);
            let dims = [<$n>::USIZE, <$c>::USIZE, <$h>::USIZE, <$w>::USIZE];
            let xs: Vec<f32> = (0..dims.iter().product::<usize>())
                .map(|i| ((i as f32) * 0.37).sin())
                .collect();
            let weight = layer.tensor(0).to_vec();
            let bias = $bias.then(|| layer.tensor(1).to_vec());
            let want = conv_definition(&xs, dims, &weight, bias.as_deref(), $kernel, $opts);
            let x = Tensor::<($n, $c, $h, $w), f32>::from_vec(xs).unwrap();
            let fresh = layer.forward(&x);
            let inferred = layer.infer(&x);
            let (trained, _, _) = train_pass(&mut layer, &x, |y| y.clone());
            for (how, y) in [("forward", fresh), ("infer", inferred), ("train", trained)] {
                assert_eq!(y.as_slice().len(), want.len());
                for (i, (g, w)) in y.as_slice().iter().zip(&want).enumerate() {
                    assert!(
                        (f64::from(*g) - w).abs() < 1e-4 * (1.0 + w.abs()),
                        "{} {how} y[{i}]: {g} against {w}",
                        stringify!($layer)
                    );
                }
            }
        }};
    }
    // Stride 2, output rows of 16 and 32; stride 1 with few filters, rows of 16; stride 2 with
    // rows of 6 (the wide output); dilated, grouped, without bias (rows of 16); grouped (16).
    check!(Conv<U3, U5, U3, U3, U2, U1>, 1, true, (U2, U3, U32, U32), [5, 3, 3], [2, 1, 1, 1]);
    // More filters than a tile has rows (8): the bias of each tile's rows.
    check!(Conv<U3, U20, U3, U3, U2, U1>, 7, true, (U2, U3, U16, U32), [20, 3, 3], [2, 1, 1, 1]);
    check!(Conv<U2, U4, U3, U3, U2, U1>, 2, true, (U3, U2, U9, U64), [4, 3, 3], [2, 1, 1, 1]);
    check!(Conv<U3, U4, U3, U3, U1, U1>, 3, true, (U2, U3, U5, U16), [4, 3, 3], [1, 1, 1, 1]);
    check!(Conv<U2, U3, U3, U3, U2, U1>, 4, true, (U2, U2, U11, U12), [3, 3, 3], [2, 1, 1, 1]);
    check!(
        Conv2d<U4, U4, U3, U3, U2, U2, U2, U2, NoBias>,
        5,
        false,
        (U2, U4, U12, U32),
        [4, 3, 3],
        [2, 2, 2, 2]
    );
    check!(
        Conv2d<U4, U6, U3, U3, U2, U1, U1, U2>,
        6,
        true,
        (U2, U4, U6, U32),
        [6, 3, 3],
        [2, 1, 1, 2]
    );
}
