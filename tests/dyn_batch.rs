//! A batch of runtime size (`Dyn`): every layer, loss and model gives exactly the static-batch
//! result, and every rule a `Dyn` dim hides from the compiler is checked at run time, with the
//! rule's own words (an `Err` for data coming in, a panic between arguments of one call).

mod common;
use common::train_pass;
use rand::{rngs::StdRng, SeedableRng};
use shaped::data::Dataset;
use shaped::{mse, softmax_cross_entropy, typenum::*, Adam, Affine, AvgPool2d, Conv, Dim, Dyn};
use shaped::{softmax_cross_entropy_into, Context, Flatten, Init, LabelError, MaxPool2d};
use shaped::{Module, Params, ReLU, Tensor};

/// Deterministic values with no ties (max pooling) and both signs (ReLU).
fn values(n: usize, seed: f64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 + seed) * 0.731).sin() * 2.0 + i as f64 * 1e-3)
        .collect()
}

/// The same data with a static batch and with a `Dyn` one.
fn both<S: shaped::ConstShape>(seed: f64) -> (Tensor<S, f64>, Tensor<S::WithBatch<Dyn>, f64>) {
    let s = Tensor::<S, f64>::from_vec(values(S::NUM_ELEMENTS, seed)).unwrap();
    let d = s.clone().into_dyn_batch();
    (s, d)
}

#[test]
fn affine_and_relu_on_a_dyn_batch_equal_the_static_batch() {
    let layer = Affine::<U5, U3, f64>::init(&mut StdRng::seed_from_u64(0));
    let (xs, xd) = both::<(U7, U5)>(1.0);
    let (dys, dyd) = both::<(U7, U3)>(2.0);
    let (ys, yd) = (layer.forward(&xs), layer.forward(&xd));
    assert_eq!(yd.dims(), [7, 3]);
    assert_eq!(ys.as_slice(), yd.as_slice());
    let ((dxs, gs), (dxd, gd)) = (layer.backward(&xs, &dys), layer.backward(&xd, &dyd));
    assert_eq!(dxs.as_slice(), dxd.as_slice());
    assert_eq!(gs, gd);
    assert_eq!(ReLU.forward(&ys).as_slice(), ReLU.forward(&yd).as_slice());
    let (rs, rd) = (ReLU.backward(&ys, &dys), ReLU.backward(&yd, &dyd));
    assert_eq!(rs.as_slice(), rd.as_slice());
}

#[test]
fn conv_on_a_dyn_batch_equals_the_static_batch() {
    let conv = Conv::<U2, U3, U3, U3, U2, U1, f64>::init(&mut StdRng::seed_from_u64(1));
    let (xs, xd) = both::<(U3, U2, U9, U8)>(3.0);
    let (dys, dyd) = both::<(U3, U3, U5, U4)>(4.0);
    let (ys, yd) = (conv.forward(&xs), conv.forward(&xd));
    assert_eq!(yd.dims(), [3, 3, 5, 4]);
    assert_eq!(ys.as_slice(), yd.as_slice());
    let ((dxs, gs), (dxd, gd)) = (conv.backward(&xs, &dys), conv.backward(&xd, &dyd));
    assert_eq!(dxs.as_slice(), dxd.as_slice());
    assert_eq!(gs, gd);
    // The training path, which keeps the lowering from forward to backward.
    let mut conv = conv;
    let (ys2, dxd2, gd2) = train_pass(&mut conv, &xd, |_| dyd.clone());
    assert_eq!(ys2.as_slice(), ys.as_slice());
    assert_eq!(dxd2.as_slice(), dxs.as_slice());
    assert_eq!(gd2, gs);
}

#[test]
fn pools_and_flatten_on_a_dyn_batch_equal_the_static_batch() {
    let (xs, xd) = both::<(U2, U3, U6, U6)>(5.0);
    let mut max = MaxPool2d::<U2>::new();
    let mut avg = AvgPool2d::<U3, U2>::new();
    let dy = Tensor::<(Dyn, U3, U3, U3), f64>::from_vec(values(54, 6.0)).unwrap();
    let dys = dy.clone().try_into_batch::<U2>().unwrap();
    let (ys, dxs, ()) = train_pass(&mut max, &xs, |_| dys.clone());
    let (yd, dxd, ()) = train_pass(&mut max, &xd, |_| dy.clone());
    assert_eq!(ys.as_slice(), yd.as_slice());
    assert_eq!(dxs.as_slice(), dxd.as_slice());
    let dy = Tensor::<(Dyn, U3, U2, U2), f64>::from_vec(values(24, 7.0)).unwrap();
    let dys = dy.clone().try_into_batch::<U2>().unwrap();
    let (ys, dxs, ()) = train_pass(&mut avg, &xs, |_| dys.clone());
    let (yd, dxd, ()) = train_pass(&mut avg, &xd, |_| dy.clone());
    assert_eq!(ys.as_slice(), yd.as_slice());
    assert_eq!(dxs.as_slice(), dxd.as_slice());
    let flat: Tensor<(Dyn, U108), f64> = Flatten.infer(&xd);
    assert_eq!(flat.as_slice(), xs.as_slice());
}

type Cnn = (
    Conv<U1, U4, U3, U3, U1, U1, f64>,
    ReLU,
    MaxPool2d<U2>,
    Flatten,
    Affine<U64, U10, f64>,
);

#[test]
fn a_model_trained_on_dyn_batches_equals_one_trained_on_static_batches() {
    let mut a = Cnn::init(&mut StdRng::seed_from_u64(2));
    let mut b = a.clone();
    let (mut oa, mut ob) = (Adam::new(1e-2).unwrap(), Adam::new(1e-2).unwrap());
    for step in 0..3 {
        let (xs, xd) = both::<(U5, U1, U8, U8)>(step as f64);
        let labels = [1, 4, 9, 0, 3];
        let (mut loss_s, mut loss_d) = (0.0, 0.0);
        let (ls, dxs, gs) = train_pass(&mut a, &xs, |y| {
            let (l, d) = softmax_cross_entropy(y, &labels).unwrap();
            loss_s = l;
            d
        });
        let (ld, dxd, gd) = train_pass(&mut b, &xd, |y| {
            let (l, d) = softmax_cross_entropy(y, &labels).unwrap();
            loss_d = l;
            d
        });
        assert_eq!(ls.as_slice(), ld.as_slice());
        assert_eq!(loss_s, loss_d);
        assert_eq!(dxs.as_slice(), dxd.as_slice());
        oa.step(&mut a, &gs);
        ob.step(&mut b, &gd);
    }
    assert_eq!(a, b);
}

#[test]
fn mse_on_a_dyn_batch_equals_the_static_batch() {
    let (ps, pd) = both::<(U4, U3)>(8.0);
    let (ts, td) = both::<(U4, U3)>(9.0);
    let (ls, gs) = mse(&ps, &ts);
    let (ld, gd) = mse(&pd, &td);
    assert_eq!(ls, ld);
    assert_eq!(gs.as_slice(), gd.as_slice());
}

/// A training step generic over the batch: `N: Dim` is the only bound.
fn step<N: Dim>(
    model: &mut Cnn,
    opt: &mut Adam<Cnn, f64>,
    x: &Tensor<(N, U1, U8, U8), f64>,
) -> f64 {
    let labels: Vec<usize> = (0..x.dims()[0]).map(|i| i % 10).collect();
    let mut work = Default::default();
    let mut ctx = Context::new(0);
    let mut dlogits = Tensor::default();
    let logits = model.forward_train(x, &mut work, &mut ctx);
    let loss = softmax_cross_entropy_into(logits, &labels, &mut dlogits).unwrap();
    let mut grads = model.zero_grads();
    model.backward_train(x, &dlogits, &mut work, &mut grads, false);
    opt.step(model, &grads);
    loss
}

#[test]
fn a_step_generic_over_the_batch_takes_static_and_dyn_batches() {
    let mut model = Cnn::init(&mut StdRng::seed_from_u64(3));
    let mut opt = Adam::new(1e-3).unwrap();
    let (xs, xd) = both::<(U3, U1, U8, U8)>(10.0);
    assert!(step(&mut model, &mut opt, &xs).is_finite());
    assert!(step(&mut model, &mut opt, &xd).is_finite());
}

// Data coming in: errors naming the rule and both sizes.

#[test]
fn from_vec_with_a_dyn_batch_needs_whole_rows() {
    let err = Tensor::<(Dyn, U1, U8, U8)>::from_vec(vec![0.0; 100]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape error: expected a multiple of 64 elements for shape (Dyn, 1, 8, 8), found 100 elements"
    );
    let ok = Tensor::<(Dyn, U1, U8, U8)>::from_vec(vec![0.0; 192]).unwrap();
    assert_eq!(ok.dims(), [3, 1, 8, 8]);
    let empty = Tensor::<(Dyn, U4)>::from_vec(vec![]).unwrap();
    assert_eq!(empty.dims(), [0, 4]);
    let two = Tensor::<(Dyn, U4, Dyn)>::from_vec(vec![0.0; 8]).unwrap_err();
    assert!(two.to_string().contains("at most one Dyn dim"), "{two}");
}

#[test]
fn labels_are_counted_against_the_runtime_batch() {
    let x = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 6]).unwrap();
    let err = Dataset::new(x.clone(), vec![0, 1]).unwrap_err();
    assert_eq!(
        err,
        LabelError::Count {
            expected: 3,
            found: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "expected 3 labels (the batch size), found 2"
    );
    let err = softmax_cross_entropy(&x, &[0, 1, 1, 0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected 3 labels (the batch size), found 4"
    );
}

#[test]
fn batch_conversions_are_checked() {
    let x = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 6]).unwrap();
    let err = x.clone().try_into_batch::<U4>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape error: expected a batch of (4,), found a batch of 3 in shape (3, 2)"
    );
    // Cheap: the elements move, they are not copied.
    let (copy, at) = (x.clone(), x.as_slice().as_ptr());
    let ok: Tensor<(U3, U2)> = x.try_into_batch().unwrap();
    assert_eq!(ok.as_slice().as_ptr(), at);
    let back = ok.into_dyn_batch();
    assert_eq!((back.as_slice().as_ptr(), back.dims()), (at, [3, 2]));
    let x = copy;
    let err = x.try_reshape::<(U4,)>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape error: expected 4 elements for shape (4,), found 6 elements"
    );
}

#[test]
fn batches_walk_every_sample_once_with_a_partial_last_batch() {
    let x = Tensor::<(Dyn, U2)>::from_vec((0..14).map(|v| v as f32).collect()).unwrap();
    let mut data = Dataset::new(x, (0..7).collect()).unwrap();
    let held_out = data.split_off(2);
    assert_eq!((data.len(), held_out.len()), (5, 2));
    assert_eq!(held_out.labels(), &[5, 6]);
    assert_eq!(held_out.inputs().as_slice(), &[10.0, 11.0, 12.0, 13.0]);
    data.shuffle(&mut StdRng::seed_from_u64(4));
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    for (x, labels) in data.batches(2) {
        sizes.push(labels.len());
        for (row, &label) in x.as_slice().chunks(2).zip(labels) {
            // Each row travelled with its own label.
            assert_eq!(row, &[label as f32 * 2.0, label as f32 * 2.0 + 1.0]);
            seen.push(label);
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    seen.sort();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
}

// Between arguments of one call: a panic in the rule's words, sizes in plain decimal.

#[test]
#[should_panic(
    expected = "shape mismatch in Affine grad_output: expected (4, 2) (N, DO), found (3, 2)"
)]
fn affine_gradient_of_another_runtime_batch_panics_in_the_rules_words() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 12]).unwrap();
    let dy = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 6]).unwrap();
    let _ = layer.backward(&x, &dy);
}

#[test]
#[should_panic(expected = "shape mismatch in Affine bias: expected (2,) (DO,), found (3,)")]
fn an_affine_bias_of_another_runtime_length_than_the_weight_panics_in_the_rules_words() {
    let w = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 6]).unwrap(); // 2 outputs
    let b = Tensor::<(Dyn,)>::from_vec(vec![0.0; 3]).unwrap();
    let _ = Affine::new(w, b);
}

#[test]
#[should_panic(expected = "shape mismatch in Conv bias: expected (2,) (K,), found (1,)")]
fn a_conv_bias_of_another_runtime_length_than_the_filters_panics_in_the_rules_words() {
    let w = Tensor::<(Dyn, U1, U3, U3)>::from_vec(vec![0.0; 18]).unwrap(); // 2 filters
    let b = Tensor::<(Dyn,)>::from_vec(vec![0.0]).unwrap();
    let _ = Conv::<U1, Dyn, U3, U3>::new(w, b);
}

#[test]
#[should_panic(expected = "shape mismatch in Affine input: expected 3 features (DI), found 5")]
fn affine_input_of_runtime_width_is_checked() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, Dyn)>::from_vec(vec![0.0; 10]).unwrap();
    let _ = layer.forward(&x);
}

#[test]
#[should_panic(
    expected = "shape mismatch in ReLU grad_output: expected (2, 3) (the input's shape), found (4, 3)"
)]
fn relu_gradient_of_another_runtime_batch_panics() {
    let x = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 6]).unwrap();
    let dy = Tensor::<(Dyn, U3)>::from_vec(vec![0.0; 12]).unwrap();
    let _ = ReLU.backward(&x, &dy);
}

#[test]
#[should_panic(
    expected = "shape mismatch in Conv grad_output: expected (2, 1, 2, 2) (N, K, HO, WO), found (1, 1, 2, 2)"
)]
fn conv_gradient_of_another_runtime_batch_panics() {
    let conv = Conv::<U1, U1, U3, U3>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(Dyn, U1, U4, U4)>::from_vec(vec![0.0; 32]).unwrap();
    let dy = Tensor::<(Dyn, U1, U2, U2)>::from_vec(vec![0.0; 4]).unwrap();
    let _ = conv.backward(&x, &dy);
}

#[test]
#[should_panic(
    expected = "shape mismatch in Conv input channels: expected 3 channels (C), found 2"
)]
fn conv_channels_of_runtime_size_are_checked() {
    let conv = Conv::<U3, U1, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U1, Dyn, U2, U2)>::from_vec(vec![0.0; 8]).unwrap();
    let _ = conv.forward(&x);
}

#[test]
#[should_panic(
    expected = "kernel height 7 is larger than the padded input height 5 (H + 2P) in Conv"
)]
fn a_kernel_larger_than_a_runtime_height_panics() {
    let conv = Conv::<U1, U1, U7, U1, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U1, U1, Dyn, U4)>::from_vec(vec![0.0; 12]).unwrap();
    let _ = conv.forward(&x);
}

#[test]
fn a_runtime_height_gives_the_formulas_output_size() {
    let conv = Conv::<U1, U2, U3, U3, U2, U1>::new(Tensor::full(1.0), Tensor::zeros());
    let x = Tensor::<(U1, U1, Dyn, U9)>::from_vec(vec![1.0; 9 * 9]).unwrap();
    let y = conv.forward(&x);
    assert_eq!(y.dims(), [1, 2, 5, 5]); // ⌊(9 + 2 − 3) / 2⌋ + 1
    let xs = Tensor::<(U1, U1, U9, U9)>::from_vec(vec![1.0; 81]).unwrap();
    assert_eq!(y.as_slice(), conv.forward(&xs).as_slice());
}

#[test]
#[should_panic(
    expected = "shape mismatch in mse target: expected (2, 2) (the prediction's shape), found (1, 2)"
)]
fn mse_target_of_another_runtime_batch_panics() {
    let p = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 4]).unwrap();
    let t = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 2]).unwrap();
    let _ = mse(&p, &t);
}

#[test]
#[should_panic(
    expected = "reshape changes the element count: the tensor has 6 elements, the new shape 4 elements"
)]
fn a_reshape_of_another_runtime_count_panics() {
    let x = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 6]).unwrap();
    let _: Tensor<(U4,)> = x.reshape();
}

#[test]
#[should_panic(
    expected = "shape mismatch in Affine grad_output: expected (3, 10) (N, DO), found (2, 10)"
)]
fn a_model_given_a_gradient_of_another_batch_panics() {
    let mut model = Cnn::init(&mut StdRng::seed_from_u64(5));
    let x = Tensor::<(Dyn, U1, U8, U8), f64>::from_vec(vec![0.0; 3 * 64]).unwrap();
    let dy = Tensor::<(Dyn, U10), f64>::from_vec(vec![0.0; 20]).unwrap();
    let _ = train_pass(&mut model, &x, |_| dy.clone());
}

/// The backward pass of `layer` on an `x` of 2 samples with a `dy` of 3.
fn backward_with_a_dy_of_another_batch<L, S, O>(mut layer: L)
where
    L: Module<f32, Tensor<S, f32>, Out = Tensor<O, f32>>,
    S: shaped::Shape<Batch = Dyn>,
    O: shaped::Shape<Batch = Dyn>,
{
    let x: Tensor<S, f32> = Tensor::from_vec(vec![1.0; 2 * 4 * 4 * 4]).unwrap();
    let mut work = Default::default();
    let y = layer.forward_train(&x, &mut work, &mut Context::new(0));
    let per_row = y.as_slice().len() / 2;
    let dy: Tensor<O, f32> = Tensor::from_vec(vec![1.0; 3 * per_row]).unwrap();
    let mut grads = layer.zero_grads();
    let _ = layer.backward_train(&x, &dy, &mut work, &mut grads, true);
}

#[test]
#[should_panic(
    expected = "shape mismatch in pool grad_output: expected (2, 4, 2, 2) (N, C, HO, WO), found (3, 4, 2, 2)"
)]
fn max_pool_gradient_of_another_runtime_batch_panics() {
    backward_with_a_dy_of_another_batch::<_, (Dyn, U4, U4, U4), _>(MaxPool2d::<U2>::new());
}

#[test]
#[should_panic(
    expected = "shape mismatch in pool grad_output: expected (2, 4, 2, 2) (N, C, HO, WO), found (3, 4, 2, 2)"
)]
fn avg_pool_gradient_of_another_runtime_batch_panics() {
    backward_with_a_dy_of_another_batch::<_, (Dyn, U4, U4, U4), _>(AvgPool2d::<U2>::new());
}

#[test]
#[should_panic(
    expected = "shape mismatch in grad_output: expected (2, 64) (the layer's output shape), found (3, 64)"
)]
fn dropout_gradient_of_another_runtime_batch_panics() {
    backward_with_a_dy_of_another_batch::<_, (Dyn, U64), _>(shaped::Dropout::new(0.5).unwrap());
}

#[test]
#[should_panic(
    expected = "shape mismatch in grad_output: expected (2, 64) (the layer's output shape), found (3, 64)"
)]
fn flatten_gradient_of_another_runtime_batch_panics() {
    backward_with_a_dy_of_another_batch::<_, (Dyn, U4, U4, U4), _>(Flatten);
}
