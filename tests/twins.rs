//! The compiling twins of the compile-fail tests in `ui-tests/`: the same code with the shape
//! corrected. Each test is named after its ui-test, so a failing ui-test is known to fail for
//! the shape it names and for nothing else.

use shaped::{typenum::*, Affine, AffineGrads, Conv, ConvGrads, Dyn, ReLU, Tensor};

#[test]
fn affine_input_dim_mismatch() {
    let layer = Affine::<U784, U10>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U32, U784)>::zeros();
    let y = layer.forward(&x);
    assert_eq!(y.dims(), [32, 10]);
}

#[test]
fn affine_grad_output_wrong_do() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U4)>::zeros();
    let dy = Tensor::<(U8, U2)>::zeros();
    let (dx, _) = layer.backward(&x, &dy);
    assert_eq!(dx.dims(), [8, 4]);
}

#[test]
fn affine_batch_mismatch() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U16, U4)>::zeros();
    let dy = Tensor::<(U16, U2)>::zeros();
    let (dx, _) = layer.backward(&x, &dy);
    assert_eq!(dx.dims(), [16, 4]);
}

#[test]
fn affine_weight_grad_transposed() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U4, U2)>::zeros();
    let (_dx, grads): (_, AffineGrads<U3, U2>) = layer.backward(&x, &dy);
    let dw: Tensor<(U2, U3)> = grads.weight;
    assert_eq!(dw.dims(), [2, 3]);
}

#[test]
fn affine_layers_do_not_meet() {
    let first = Affine::<U3, U4>::new(Tensor::zeros(), Tensor::zeros());
    let second = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U3)>::zeros();
    let y = second.forward(&ReLU.forward(&first.forward(&x)));
    assert_eq!(y.dims(), [8, 2]);
}

#[test]
fn relu_grad_other_shape() {
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U4, U3)>::zeros();
    assert_eq!(ReLU.backward(&x, &dy).dims(), [4, 3]);
}

#[test]
fn relu_grad_other_rank() {
    let x = Tensor::<(U4, U3)>::zeros();
    let dy: Tensor<(U4, U3)> = Tensor::<(U12,)>::zeros().reshape();
    assert_eq!(ReLU.backward(&x, &dy).dims(), [4, 3]);
}

#[test]
fn reshape_other_count() {
    let x = Tensor::<(U4, U3)>::zeros();
    let y: Tensor<(U2, U6)> = x.reshape();
    assert_eq!(y.dims(), [2, 6]);
}

#[test]
fn affine_output_annotated_wrong_do() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3)>::zeros();
    let y: Tensor<(U4, U2)> = layer.forward(&x);
    assert_eq!(y.dims(), [4, 2]);
}

#[test]
fn conv_channel_mismatch() {
    let conv = Conv::<U3, U16, U3, U3, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U3, U32, U32)>::zeros();
    assert_eq!(conv.forward(&x).dims(), [8, 16, 32, 32]);
}

#[test]
fn conv_kernel_taller_than_padded_input() {
    // 7 rows fit once the 5-row input is padded by 1 on each side.
    let conv = Conv::<U1, U4, U7, U3, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U5, U9)>::zeros();
    assert_eq!(conv.forward(&x).dims(), [2, 4, 1, 9]);
}

#[test]
fn conv_kernel_wider_than_padded_input() {
    let conv = Conv::<U1, U4, U3, U7, U1, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U9, U3)>::zeros();
    assert_eq!(conv.forward(&x).dims(), [2, 4, 11, 1]);
}

#[test]
fn conv_zero_stride() {
    let conv = Conv::<U1, U4, U3, U3, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U8, U8)>::zeros();
    assert_eq!(conv.forward(&x).dims(), [2, 4, 8, 8]);
}

#[test]
fn conv_grad_output_unstrided() {
    let conv = Conv::<U3, U8, U3, U3, U2, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3, U32, U32)>::zeros();
    let dy = Tensor::<(U4, U8, U16, U16)>::zeros();
    let (dx, _) = conv.backward(&x, &dy);
    assert_eq!(dx.dims(), [4, 3, 32, 32]);
}

#[test]
fn conv_output_annotated_wrong_ho() {
    let conv = Conv::<U3, U8, U3, U3, U2, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3, U32, U32)>::zeros();
    let y: Tensor<(U4, U8, U16, U16)> = conv.forward(&x);
    assert_eq!(y.dims(), [4, 8, 16, 16]);
}

#[test]
fn conv_weight_grad_swapped_k_c() {
    let conv = Conv::<U3, U8, U3, U3, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3, U8, U8)>::zeros();
    let dy = Tensor::<(U4, U8, U8, U8)>::zeros();
    let (_dx, grads): (_, ConvGrads<U3, U8, U3, U3>) = conv.backward(&x, &dy);
    assert_eq!(grads.weight.dims(), [8, 3, 3, 3]);
}

mod models {
    use rand::{rngs::StdRng, SeedableRng};
    use shaped::{mse, typenum::*, Affine, AvgPool2d, Conv, Flatten, Init, MaxPool2d};
    use shaped::{Context, Dyn, Module, Params, ReLU, Sgd, Tensor};

    fn rng() -> StdRng {
        StdRng::seed_from_u64(0)
    }

    #[test]
    fn model_miswired_flatten_to_affine() {
        type Cnn = (
            Conv<U1, U32, U3, U3, U1, U1>,
            ReLU,
            MaxPool2d<U2>,
            Flatten,
            Affine<U512, U64>,
            ReLU,
            Affine<U64, U10>,
        );
        let model = Cnn::init(&mut rng());
        let logits = model.infer(&Tensor::<(U32, U1, U8, U8)>::zeros());
        assert_eq!(logits.dims(), [32, 10]);
    }

    #[test]
    fn model_miswired_hidden_layers() {
        let mut model = <(Affine<U64, U128>, ReLU, Affine<U128, U10>)>::init(&mut rng());
        let mut work = Default::default();
        let x = Tensor::<(U32, U64)>::zeros();
        let logits = model.forward_train(&x, &mut work, &mut Context::new(0));
        assert_eq!(logits.dims(), [32, 10]);
    }

    #[test]
    fn model_miswired_at_index_3() {
        use shaped::Sigmoid;
        type Net = (Flatten, Affine<U64, U32>, ReLU, Affine<U32, U10>, Sigmoid);
        let model = Net::init(&mut rng());
        let y = model.infer(&Tensor::<(U4, U1, U8, U8)>::zeros());
        assert_eq!(y.dims(), [4, 10]);
    }

    #[test]
    fn nested_model_miswired_at_1_2() {
        type Net = (
            (Affine<U64, U128>, ReLU),
            (Affine<U128, U32>, ReLU, Affine<U32, U10>),
        );
        let mut model = Net::init(&mut rng());
        let x = Tensor::<(U8, U64)>::zeros();
        let mut work = Default::default();
        let y = model.forward_train(&x, &mut work, &mut Context::new(0));
        assert_eq!(y.dims(), [8, 10]);
    }

    #[test]
    fn model_miswired_reported_once_per_call() {
        let mut model = <(Affine<U64, U128>, ReLU, Affine<U128, U10>)>::init(&mut rng());
        let x = Tensor::<(U32, U64)>::zeros();
        let mut work = Default::default();
        let mut grads = model.zero_grads();
        let logits = model.forward_train(&x, &mut work, &mut Context::new(0));
        assert_eq!(logits.dims(), [32, 10]);
        let dlogits = Tensor::<(U32, U10)>::full(1.0);
        model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
        assert_ne!(grads.2.bias.as_slice(), &[0.0; 10]);
    }

    /// A classifier's gradient, of the output's shape, type and rank; the twin of the three
    /// `model_grad_output_*` ui-tests.
    fn train_classifier_with_a_gradient_of_its_output() -> [usize; 2] {
        let mut model = <(Affine<U64, U128>, ReLU, Affine<U128, U10>)>::init(&mut rng());
        let x = Tensor::<(U32, U64)>::zeros();
        let mut work = Default::default();
        let mut grads = model.zero_grads();
        let logits = model.forward_train(&x, &mut work, &mut Context::new(0));
        let dims = logits.dims();
        let dlogits = Tensor::<(U32, U10)>::full(1.0);
        model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
        assert_eq!(grads.2.bias.as_slice(), &[32.0; 10]);
        dims
    }

    #[test]
    fn model_grad_output_wrong_shape() {
        assert_eq!(train_classifier_with_a_gradient_of_its_output(), [32, 10]);
    }

    #[test]
    fn model_grad_output_dyn_for_static_batch() {
        assert_eq!(train_classifier_with_a_gradient_of_its_output(), [32, 10]);
        // And a model on a runtime batch takes a gradient of a runtime batch.
        let mut model = <(Affine<U64, U128>, ReLU, Affine<U128, U10>)>::init(&mut rng());
        let x = Tensor::<(Dyn, U64)>::zeros_with((Dyn(32), U64::new()));
        let mut work = Default::default();
        let mut grads = model.zero_grads();
        model.forward_train(&x, &mut work, &mut Context::new(0));
        let dlogits = Tensor::<(Dyn, U10)>::full_with((Dyn(32), U10::new()), 1.0);
        model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
        assert_eq!(grads.2.bias.as_slice(), &[32.0; 10]);
    }

    #[test]
    fn model_grad_output_wrong_rank() {
        assert_eq!(train_classifier_with_a_gradient_of_its_output(), [32, 10]);
    }

    #[test]
    fn model_miswired_conv_channels() {
        let mut model = <(
            Conv<U1, U8, U3, U3, U1, U1>,
            ReLU,
            Conv<U8, U16, U3, U3, U2, U1>,
        )>::init(&mut rng());
        let mut work = Default::default();
        let x = Tensor::<(U2, U1, U16, U16)>::zeros();
        let y = model.forward_train(&x, &mut work, &mut Context::new(0));
        assert_eq!(y.dims(), [2, 16, 8, 8]);
    }

    #[test]
    fn optimizer_given_another_models_grads() {
        let mut small = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::init(&mut rng());
        let before = small.0.weight.clone();
        let x = Tensor::<(U3, U4)>::full(1.0);
        let mut work = Default::default();
        let y = small
            .forward_train(&x, &mut work, &mut Context::new(0))
            .clone();
        let mut grads = small.zero_grads();
        small.backward_train(&x, &y, &mut work, &mut grads, false);
        Sgd::new(0.1).unwrap().step(&mut small, &grads);
        assert_ne!(small.0.weight, before);
    }

    #[test]
    fn maxpool_window_larger_than_input() {
        let y = MaxPool2d::<U4>::new().infer(&Tensor::<(U2, U3, U4, U4)>::zeros());
        assert_eq!(y.dims(), [2, 3, 1, 1]);
    }

    #[test]
    fn pool_zero_stride() {
        let y = AvgPool2d::<U2, U1>::new().infer(&Tensor::<(U2, U3, U4, U4)>::zeros());
        assert_eq!(y.dims(), [2, 3, 3, 3]);
    }

    #[test]
    fn mse_target_other_shape() {
        let (loss, _) = mse(&Tensor::<(U8, U2)>::full(1.0), &Tensor::<(U8, U2)>::zeros());
        assert_eq!(loss, 1.0);
    }
}

#[test]
fn dyn_batch_affine_input_mismatch() {
    let layer = Affine::<U784, U10>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(Dyn, U784)>::from_vec(vec![0.0; 3 * 784]).unwrap();
    let y = layer.forward(&x);
    assert_eq!(y.dims(), [3, 10]);
}

#[test]
fn dyn_batch_grad_output_wrong_do() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(Dyn, U4)>::from_vec(vec![0.0; 32]).unwrap();
    let dy = Tensor::<(Dyn, U2)>::from_vec(vec![0.0; 16]).unwrap();
    let (dx, _) = layer.backward(&x, &dy);
    assert_eq!(dx.dims(), [8, 4]);
}

#[test]
fn dyn_batch_model_miswired_conv_channels() {
    use rand::{rngs::StdRng, SeedableRng};
    use shaped::{Init, Module};
    let model: (Conv<U1, U8, U3, U3>, ReLU, Conv<U8, U16, U3, U3>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(Dyn, U1, U16, U16)>::from_vec(vec![0.0; 512]).unwrap();
    assert_eq!(model.infer(&x).dims(), [2, 16, 12, 12]);
}

#[test]
fn zeros_of_a_dyn_shape() {
    let x = Tensor::<(Dyn, U784)>::zeros_with((Dyn(2), U784::default()));
    assert_eq!(x.dims(), [2, 784]);
}

mod zero_sized {
    use rand::{rngs::StdRng, SeedableRng};
    use shaped::{typenum::*, Affine, Conv, Init, MaxPool2d, Module, Tensor};

    #[test]
    fn affine_zero_inputs() {
        let layer = Affine::<U1, U2>::init(&mut StdRng::seed_from_u64(0));
        assert_eq!(layer.weight.dims(), [2, 1]);
    }

    #[test]
    fn conv_zero_filters() {
        let conv = Conv::<U1, U1, U3, U3>::init(&mut StdRng::seed_from_u64(0));
        assert_eq!(conv.weight.dims(), [1, 1, 3, 3]);
    }

    #[test]
    fn conv_zero_kernel() {
        let conv = Conv::<U1, U4, U1, U1>::init(&mut StdRng::seed_from_u64(0));
        assert_eq!(conv.weight.dims(), [4, 1, 1, 1]);
    }

    #[test]
    fn maxpool_zero_window() {
        let pool = MaxPool2d::<U1>::new();
        let y = pool.infer(&Tensor::<(U1, U1, U2, U2)>::full(3.0));
        assert_eq!(y.dims(), [1, 1, 2, 2]);
    }

    #[test]
    #[should_panic(expected = "zero-sized Affine layer: DI and DO must be at least 1, found 0")]
    fn a_zero_sized_affine_built_from_runtime_tensors_panics_in_the_rules_words() {
        use shaped::Dyn;
        let w = Tensor::<(U2, Dyn)>::from_vec(vec![]).unwrap();
        let _ = Affine::new(w, Tensor::<(U2,)>::zeros());
    }
}

#[test]
fn model_forgot_flatten() {
    use rand::{rngs::StdRng, SeedableRng};
    use shaped::{Flatten, Init, MaxPool2d, Module};
    type Cnn = (
        Conv<U1, U32, U3, U3, U1, U1>,
        ReLU,
        MaxPool2d<U2>,
        Flatten,
        Affine<U512, U10>,
    );
    let model: Cnn = Init::init(&mut StdRng::seed_from_u64(0));
    let logits = model.infer(&Tensor::<(U2, U1, U8, U8)>::zeros());
    assert_eq!(logits.dims(), [2, 10]);
}

#[test]
fn conv_element_type_in_stride_slot() {
    use shaped::Seeded;
    let conv = Conv::<U1, U4, U3, U3, U1, U0, f64>::seeded(0);
    assert_eq!(conv.weight.dims(), [4, 1, 3, 3]);
}

#[test]
fn twelve_layers_and_nested_models_train_and_name_their_parameters_as_pytorch() {
    use shaped::{Context, Module, Params, Seeded, Tensors};
    type Twelve = (
        Affine<U4, U4>,
        ReLU,
        Affine<U4, U4>,
        ReLU,
        Affine<U4, U4>,
        ReLU,
        Affine<U4, U4>,
        ReLU,
        Affine<U4, U4>,
        ReLU,
        Affine<U4, U4>,
        Affine<U4, U2>,
    );
    let mut model = Twelve::seeded(0);
    let x = Tensor::<(U3, U4)>::full(1.0);
    let mut work = Default::default();
    let y = model
        .forward_train(&x, &mut work, &mut Context::new(0))
        .clone();
    let mut grads = model.zero_grads();
    model.backward_train(&x, &y, &mut work, &mut grads, false);
    assert_eq!(grads.count(), 14);
    type Nested = ((Affine<U4, U8>, ReLU), (Affine<U8, U2>,));
    let nested = Nested::seeded(0);
    let mut names = Vec::new();
    nested.visit("", &mut |name, _, _| names.push(name.to_string()));
    assert_eq!(names, ["0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias"]);
    assert_eq!(nested.infer(&x).dims(), [3, 2]);
}

mod constructors {
    use shaped::{typenum::*, Affine, Conv, Conv2d, Tensor};

    #[test]
    fn affine_new_weight_transposed() {
        let w = Tensor::<(U4, U3)>::zeros();
        let layer = Affine::<U3, U4>::new(w, Tensor::zeros());
        assert_eq!(layer.weight.dims(), [4, 3]);
        assert_eq!(layer.forward(&Tensor::<(U2, U3)>::zeros()).dims(), [2, 4]);
    }

    #[test]
    fn conv_new_bias_of_the_channels() {
        let b = Tensor::<(U8,)>::full(0.5);
        let conv = Conv::<U3, U8, U3, U3>::new(Tensor::zeros(), b);
        assert_eq!(
            conv.forward(&Tensor::<(U1, U3, U3, U3)>::zeros())
                .as_slice(),
            &[0.5; 8]
        );
    }

    #[test]
    fn affine_new_weight_of_another_element() {
        let w = Tensor::<(U4, U3), f32>::full(0.5);
        let layer = Affine::<U3, U4, f32>::new(w, Tensor::zeros());
        let y = layer.forward(&Tensor::<(U1, U3), f32>::full(1.0));
        assert_eq!(y.as_slice(), &[1.5f32; 4]);
    }

    #[test]
    fn affine_new_bias_of_another_element() {
        let b = Tensor::<(U4,), f32>::full(0.25);
        let layer = Affine::<U3, U4, f32>::new(Tensor::zeros(), b);
        assert_eq!(layer.bias.as_slice(), &[0.25f32; 4]);
    }

    #[test]
    fn conv_new_weight_of_another_element() {
        let w = Tensor::<(U8, U3, U3, U3), f32>::full(0.5);
        let conv = Conv::<U3, U8, U3, U3, U1, U0, f32>::new(w, Tensor::zeros());
        let y = conv.forward(&Tensor::<(U1, U3, U3, U3), f32>::full(1.0));
        assert_eq!(y.as_slice(), &[13.5f32; 8]); // 27 taps of 0.5
    }

    #[test]
    fn conv_new_bias_of_another_element() {
        let b = Tensor::<(U8,), f32>::full(1.0);
        let conv = Conv::<U3, U8, U3, U3, U1, U0, f32>::new(Tensor::zeros(), b);
        assert_eq!(conv.bias.as_slice(), &[1.0f32; 8]);
    }

    #[test]
    fn conv2d_new_weight_of_another_element() {
        use shaped::Bias;
        let w = Tensor::<(U8, U3, U3, U3), f32>::full(0.5);
        let conv = Conv2d::<U3, U8, U3, U3, U1, U1, U1, U1, Bias, f32>::new(w, Tensor::zeros());
        let y = conv.forward(&Tensor::<(U1, U3, U1, U1), f32>::full(1.0));
        assert_eq!(y.as_slice(), &[1.5f32; 8]); // the centre taps of 3 channels
        assert_eq!(
            conv.forward(&Tensor::<(U2, U3, U5, U5)>::zeros()).dims(),
            [2, 8, 5, 5]
        );
    }

    #[test]
    fn affine_new_weight_as_a_vec() -> Result<(), shaped::ShapeError> {
        let layer = Affine::<U3, U2>::new(Tensor::from_vec(vec![0.5f32; 6])?, Tensor::zeros());
        assert_eq!(
            layer.forward(&Tensor::<(U1, U3)>::full(1.0)).as_slice(),
            &[1.5; 2]
        );
        Ok(())
    }

    #[test]
    fn affine_new_weight_with_a_dyn_dim() -> Result<(), shaped::ShapeError> {
        let w = Tensor::<(U2, U3)>::from_vec(vec![0.0; 6])?;
        let layer = Affine::<U3, U2>::new(w, Tensor::zeros());
        assert_eq!(layer.weight.as_slice(), &[0.0; 6]);
        Ok(())
    }

    #[test]
    fn conv_new_bias_missing() {
        let conv = Conv::<U3, U8, U3, U3>::new(Tensor::zeros(), Tensor::full(0.5));
        assert_eq!(
            conv.forward(&Tensor::<(U1, U3, U3, U3)>::zeros())
                .as_slice(),
            &[0.5; 8]
        );
    }

    #[test]
    fn affine_new_bias_of_the_inputs() {
        let b = Tensor::<(U4,)>::zeros();
        let layer = Affine::<U3, U4>::new(Tensor::zeros(), b);
        assert_eq!(layer.bias.dims(), [4]);
    }

    #[test]
    fn conv_new_weight_wrong_channels() {
        let w = Tensor::<(U8, U3, U3, U3)>::zeros();
        let conv = Conv::<U3, U8, U3, U3>::new(w, Tensor::zeros());
        assert_eq!(conv.bias.dims(), [8]);
        let y = conv.forward(&Tensor::<(U1, U3, U5, U5)>::zeros());
        assert_eq!(y.dims(), [1, 8, 3, 3]);
    }

    #[test]
    fn conv2d_new_weight_all_channels_in_a_grouped_layer() {
        let w = Tensor::<(U6, U4, U3, U3)>::zeros();
        let conv = Conv2d::<U8, U6, U3, U3, U1, U1, U1, U2>::new(w, Tensor::zeros());
        let y = conv.forward(&Tensor::<(U1, U8, U5, U5)>::zeros());
        assert_eq!(y.dims(), [1, 6, 5, 5]);
    }

    #[test]
    fn conv2d_new_bias_given_to_a_layer_without_bias() {
        use shaped::NoBias;
        let conv = Conv2d::<U3, U8, U3, U3, U1, U1, U1, U1, NoBias>::new(Tensor::zeros(), ());
        let y = conv.forward(&Tensor::<(U1, U3, U4, U4)>::zeros());
        assert_eq!(y.dims(), [1, 8, 4, 4]);
    }
}

#[test]
fn init_with_another_rand_version() {
    use shaped::rand::{rngs::StdRng, SeedableRng};
    use shaped::Init;
    let mut rng = StdRng::seed_from_u64(0);
    let model = <(Affine<U4, U8>, ReLU, Affine<U8, U2>)>::init(&mut rng);
    assert_eq!(model.2.weight.dims(), [2, 8]);
}

mod residual_and_batchnorm {
    use rand::{rngs::StdRng, SeedableRng};
    use shaped::{typenum::*, BatchNorm1d, BatchNorm2d, Context, Conv, Init, Module, Projected};
    use shaped::{ReLU, Residual, Tensor};

    fn rng() -> StdRng {
        StdRng::seed_from_u64(0)
    }

    #[test]
    fn residual_block_changes_shape() {
        // The block keeps 16 channels of 14 x 14.
        let block: Residual<(Conv<U16, U16, U3, U3, U1, U1>, ReLU)> = Init::init(&mut rng());
        let y = block.infer(&Tensor::<(U8, U16, U14, U14)>::zeros());
        assert_eq!(y.dims(), [8, 16, 14, 14]);
    }

    #[test]
    fn residual_in_model_changes_shape() {
        type Net = (
            Conv<U1, U8, U3, U3, U1, U1>,
            ReLU,
            Residual<(
                Conv<U8, U8, U3, U3, U1, U1>,
                ReLU,
                Conv<U8, U8, U3, U3, U1, U1>,
            )>,
        );
        let mut model: Net = Init::init(&mut rng());
        let x = Tensor::<(U2, U1, U16, U16)>::zeros();
        let mut work = Default::default();
        let y = model.forward_train(&x, &mut work, &mut Context::new(0));
        assert_eq!(y.dims(), [2, 8, 16, 16]);
    }

    #[test]
    fn projected_shortcut_without_stride() {
        type Down = Projected<
            (
                Conv<U16, U32, U3, U3, U2, U1>,
                ReLU,
                Conv<U32, U32, U3, U3, U1, U1>,
            ),
            (Conv<U16, U32, U1, U1, U2, U0>,),
        >;
        let down: Down = Init::init(&mut rng());
        let y = down.infer(&Tensor::<(U8, U16, U14, U14)>::zeros());
        assert_eq!(y.dims(), [8, 32, 7, 7]);
    }

    #[test]
    fn batchnorm_channel_mismatch() {
        let model: (Conv<U1, U8, U3, U3, U1, U1>, BatchNorm2d<U8>, ReLU) = Init::init(&mut rng());
        let y = model.infer(&Tensor::<(U2, U1, U8, U8)>::zeros());
        assert_eq!(y.dims(), [2, 8, 8, 8]);
    }

    #[test]
    fn batchnorm_grad_output_other_shape() {
        let bn = BatchNorm2d::<U3>::new();
        let x = Tensor::<(U4, U3, U8, U8)>::zeros();
        let dy = Tensor::<(U4, U3, U8, U8)>::zeros();
        let (dx, _) = bn.backward(&x, &dy);
        assert_eq!(dx.dims(), [4, 3, 8, 8]);
    }

    #[test]
    fn batchnorm1d_feature_mismatch() {
        let bn = BatchNorm1d::<U100>::new();
        let y = bn.forward(&Tensor::<(U32, U100)>::zeros());
        assert_eq!(y.dims(), [32, 100]);
    }
}

mod batchnorm_ranks {
    use rand::{rngs::StdRng, SeedableRng};
    use shaped::{typenum::*, BatchNorm1d, BatchNorm2d, Conv, Flatten, Init, Module, Tensor};

    #[test]
    fn batchnorm2d_after_flatten() {
        let model: (Conv<U1, U4, U3, U3, U1, U1>, BatchNorm2d<U4>, Flatten) =
            Init::init(&mut StdRng::seed_from_u64(0));
        let y = model.infer(&Tensor::<(U2, U1, U4, U4)>::zeros());
        assert_eq!(y.dims(), [2, 64]);
    }

    #[test]
    fn batchnorm1d_on_images() {
        let bn = BatchNorm1d::<U16>::new();
        let y = bn.forward(&Tensor::<(U2, U16, U5)>::zeros()); // (N, C, L), as PyTorch takes
        assert_eq!(y.dims(), [2, 16, 5]);
        let y = BatchNorm2d::<U16>::new().forward(&Tensor::<(U2, U16, U4, U4)>::zeros());
        assert_eq!(y.dims(), [2, 16, 4, 4]);
    }
}

mod conv_options {
    use shaped::{typenum::*, AvgPool2dHW, Conv2d, MaxPool2dHW, Module, Seeded, Tensor};

    #[test]
    fn conv2d_groups_do_not_divide_channels() {
        let conv = Conv2d::<U8, U6, U3, U3, U1, U1, U1, U2>::seeded(0);
        assert_eq!(conv.weight.dims(), [6, 4, 3, 3]);
    }

    #[test]
    fn conv2d_groups_do_not_divide_filters() {
        let conv = Conv2d::<U6, U9, U3, U3, U1, U1, U1, U3>::seeded(0);
        assert_eq!(conv.weight.dims(), [9, 2, 3, 3]);
    }

    #[test]
    fn conv2d_zero_groups() {
        let conv = Conv2d::<U4, U4, U3, U3, U1, U1, U1, U1>::seeded(0);
        assert_eq!(conv.weight.dims(), [4, 4, 3, 3]);
    }

    #[test]
    fn conv2d_dilated_kernel_taller_than_padded_input() {
        let conv = Conv2d::<U1, U4, U3, U3, U1, U0, U2>::new(Tensor::zeros(), Tensor::zeros());
        let x = Tensor::<(U2, U1, U6, U9)>::zeros();
        assert_eq!(conv.forward(&x).dims(), [2, 4, 2, 5]);
    }

    #[test]
    fn conv2d_dilated_kernel_wider_than_padded_input() {
        let conv = Conv2d::<U1, U4, U3, U3, U1, U0, U2>::new(Tensor::zeros(), Tensor::zeros());
        let x = Tensor::<(U2, U1, U9, U6)>::zeros();
        assert_eq!(conv.forward(&x).dims(), [2, 4, 5, 2]);
    }

    #[test]
    fn conv2d_zero_dilation() {
        let conv = Conv2d::<U1, U4, U3, U3, U1, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
        let x = Tensor::<(U2, U1, U8, U8)>::zeros();
        assert_eq!(conv.forward(&x).dims(), [2, 4, 8, 8]);
    }

    #[test]
    fn pool_padding_more_than_half_window() {
        let pool = MaxPool2dHW::<U3, U3, U2, U2, U1, U1>::new();
        let y = pool.infer(&Tensor::<(U1, U1, U8, U8)>::zeros());
        assert_eq!(y.dims(), [1, 1, 4, 4]);
    }

    #[test]
    fn padded_pool_window_larger_than_padded_input() {
        let x = Tensor::<(U1, U1, U3, U4)>::zeros();
        let y = AvgPool2dHW::<U5, U3, U1, U1, U1, U1>::new().infer(&x);
        assert_eq!(y.dims(), [1, 1, 1, 4]);
    }

    #[test]
    fn padded_pool_window_wider_than_padded_input() {
        let x = Tensor::<(U1, U1, U4, U3)>::zeros();
        let y = AvgPool2dHW::<U3, U5, U1, U1, U1, U1>::new().infer(&x);
        assert_eq!(y.dims(), [1, 1, 4, 1]);
    }
}

#[test]
fn tensor_add_other_shape() {
    let a = Tensor::<(U4, U3)>::full(1.0);
    let b = Tensor::<(U4, U3)>::full(2.0);
    let sum = a.add(&b);
    assert_eq!(sum.as_slice(), &[3.0; 12]);
}

#[test]
fn tensor_add_operator_other_shape() {
    let a = Tensor::<(U4, U3)>::full(1.0);
    let b = Tensor::<(U4, U3)>::full(2.0);
    let sum = &a + &b;
    assert_eq!(sum.as_slice(), &[3.0; 12]);
}

#[test]
fn global_avg_pool_grad_other_shape() {
    use shaped::GlobalAvgPool;
    let x = Tensor::<(U2, U4, U3, U3)>::zeros();
    let dy = Tensor::<(U2, U4)>::full(9.0);
    let dx = GlobalAvgPool.backward(&x, &dy);
    assert_eq!(dx.as_slice(), &[1.0; 72]); // dY / (H·W)
}

#[test]
fn layer_without_init() {
    use shaped::rand::{rngs::StdRng, Rng, SeedableRng};
    use shaped::{Generator, Init};
    #[derive(Debug, PartialEq)]
    struct Gain(f32);
    impl<R: Generator> Init<R> for Gain {
        fn init(rng: &mut R) -> Self {
            Gain(rng.random_range(0.5..1.5))
        }
    }
    fn initialised<M: Init>(seed: u64) -> M {
        M::init(&mut StdRng::seed_from_u64(seed))
    }
    let (layer, gain): (Affine<U2, U3>, Gain) = initialised(0);
    assert_eq!(layer.weight.dims(), [3, 2]);
    assert!((0.5..1.5).contains(&gain.0));
    let again: (Affine<U2, U3>, Gain) = initialised(0);
    assert_eq!((again.0.weight, again.1), (layer.weight, gain)); // one seed, one model
}

#[test]
fn shape_cmp_other_rank() {
    use shaped::rules::ShapeCmp;
    use shaped::typenum::Bit;
    fn same<A: ShapeCmp<B>, B>() -> bool {
        <A::Same as Bit>::BOOL
    }
    assert!(same::<(U4, U3), (U4, U3)>());
    assert!(!same::<(U4, U3), (U4, U2)>());
}

#[test]
fn backward_train_given_a_vec() {
    use shaped::{Context, Module, Params, Seeded};
    let mut model = Affine::<U3, U2>::seeded(0);
    let x = Tensor::<(U4, U3)>::zeros();
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    model.forward_train(&x, &mut work, &mut Context::new(0));
    let dy = Tensor::<(U4, U2)>::full(1.0);
    model.backward_train(&x, &dy, &mut work, &mut grads, true);
    assert_eq!(grads.bias.as_slice(), &[4.0, 4.0]); // db = Σₙ dY
}

#[test]
fn const_shape_of_a_dyn_dim() {
    use shaped::ConstShape;
    fn ones<S: ConstShape>() -> Tensor<S> {
        Tensor::full(1.0)
    }
    assert_eq!(ones::<(U2, U3)>().as_slice(), &[1.0; 6]);
}

#[test]
fn tensor_sub_other_shape() {
    let a = Tensor::<(U4, U3)>::full(3.0);
    let b = Tensor::<(U4, U3)>::full(2.0);
    assert_eq!(a.sub(&b).as_slice(), &[1.0; 12]);
}

#[test]
fn tensor_mul_other_shape() {
    let a = Tensor::<(U4, U3)>::full(3.0);
    let b = Tensor::<(U4, U3)>::full(2.0);
    assert_eq!(a.mul(&b).as_slice(), &[6.0; 12]);
}

#[test]
fn activation_grad_other_shape() {
    use shaped::{Elementwise, Sigmoid};
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U4, U3)>::full(1.0);
    let dx = Sigmoid.backward(&x, &dy);
    assert_eq!(dx.as_slice(), &[0.25; 12]);
}
