//! The compiling twins of the compile-fail tests in `ui-tests/`: the same code with the shape
//! corrected. Each test is named after its ui-test, so a failing ui-test is known to fail for
//! the shape it names and for nothing else.

use shaped::{typenum::*, Affine, AffineGrads, ReLU, Tensor};

#[test]
fn affine_input_dim_mismatch() {
    let layer = Affine::<U784, U10>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U32, U784)>::zeros();
    let y = layer.forward(&x);
    assert_eq!(y.dims(), &[32, 10]);
}

#[test]
fn affine_grad_output_wrong_do() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U4)>::zeros();
    let dy = Tensor::<(U8, U2)>::zeros();
    let (dx, _) = layer.backward(&x, &dy);
    assert_eq!(dx.dims(), &[8, 4]);
}

#[test]
fn affine_batch_mismatch() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U16, U4)>::zeros();
    let dy = Tensor::<(U16, U2)>::zeros();
    let (dx, _) = layer.backward(&x, &dy);
    assert_eq!(dx.dims(), &[16, 4]);
}

#[test]
fn affine_weight_grad_transposed() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U4, U2)>::zeros();
    let (_dx, grads): (_, AffineGrads<U3, U2>) = layer.backward(&x, &dy);
    let dw: Tensor<(U2, U3)> = grads.weight;
    assert_eq!(dw.dims(), &[2, 3]);
}

#[test]
fn affine_layers_do_not_meet() {
    let first = Affine::<U3, U4>::new(Tensor::zeros(), Tensor::zeros());
    let second = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U3)>::zeros();
    let y = second.forward(&ReLU.forward(&first.forward(&x)));
    assert_eq!(y.dims(), &[8, 2]);
}

#[test]
fn relu_grad_other_shape() {
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U4, U3)>::zeros();
    assert_eq!(ReLU.backward(&x, &dy).dims(), &[4, 3]);
}

#[test]
fn relu_grad_other_rank() {
    let x = Tensor::<(U4, U3)>::zeros();
    let dy: Tensor<(U4, U3)> = Tensor::<(U12,)>::zeros().reshape();
    assert_eq!(ReLU.backward(&x, &dy).dims(), &[4, 3]);
}

#[test]
fn reshape_other_count() {
    let x = Tensor::<(U4, U3)>::zeros();
    let y: Tensor<(U2, U6)> = x.reshape();
    assert_eq!(y.dims(), &[2, 6]);
}

#[test]
fn affine_output_annotated_wrong_do() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3)>::zeros();
    let y: Tensor<(U4, U2)> = layer.forward(&x);
    assert_eq!(y.dims(), &[4, 2]);
}
