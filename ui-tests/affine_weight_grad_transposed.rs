// The weight gradient is (DO, DI) = (2, 3), like the weight; annotating it (DI, DO) fails.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3)>::zeros();
    let dy = Tensor::<(U4, U2)>::zeros();
    let (_dx, grads) = layer.backward(&x, &dy);
    let _dw: Tensor<(U3, U2)> = grads.weight;
}
