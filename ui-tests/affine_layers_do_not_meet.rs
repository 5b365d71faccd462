// A layer with 5 outputs feeding a layer that expects 4 inputs.
use shaped::{typenum::*, Affine, ReLU, Tensor};

fn main() {
    let first = Affine::<U3, U5>::new(Tensor::zeros(), Tensor::zeros());
    let second = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U3)>::zeros();
    let _y = second.forward(&ReLU.forward(&first.forward(&x)));
}
