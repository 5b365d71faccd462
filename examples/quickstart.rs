//! Two layers, forward and backward, every shape checked by the compiler.
use shaped::{typenum::*, Affine, Dim, Dyn, ReLU, Tensor};

/// Generic over the batch: `N: Dim` is the only bound.
fn hidden<N: Dim>(layer: &Affine<U4, U8>, x: &Tensor<(N, U4)>) -> Tensor<(N, U8)> {
    ReLU.forward(&layer.forward(x))
}

fn main() -> Result<(), shaped::ShapeError> {
    let l1 = Affine::<U4, U8>::new(
        Tensor::from_fn(|i| (i[0] as f32 - i[1] as f32) * 0.1),
        Tensor::full(0.1),
    );
    let l2 = Affine::<U8, U2>::new(Tensor::full(0.25), Tensor::zeros());
    let x = Tensor::<(U3, U4)>::from_fn(|i| i[1] as f32);
    let h = hidden(&l1, &x); // Tensor<(U3, U8)>
    let y = l2.forward(&h); // Tensor<(U3, U2)>: inferred, no annotation
    let dy = Tensor::<(U3, U2)>::full(1.0); // ∂L/∂Y for L = Σ Y
    let (dh, g2) = l2.backward(&h, &dy);
    let (dx, g1) = l1.backward(&x, &ReLU.backward(&l1.forward(&x), &dh));
    println!("y = {y:?}\ndx = {dx:?}");
    assert_eq!(g2.bias.as_slice(), &[3.0, 3.0]); // db = Σₙ dY
    assert_eq!(g1.weight.dims(), [8, 4]); // dW is (DO, DI), like W
    assert!(y.as_slice().iter().all(|&v| v > 0.0));

    // A batch whose size is known only at run time: the rows are counted from the data.
    let rows = Tensor::<(Dyn, U4)>::from_vec(vec![0.5; 5 * 4])?;
    let h = hidden(&l1, &rows); // Tensor<(Dyn, U8)>
    assert_eq!(h.dims(), [5, 8]);
    Ok(())
}
