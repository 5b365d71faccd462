// A layer with 2 outputs gives (N, 2); annotating its output (N, 3) fails.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let layer = Affine::<U3, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3)>::zeros();
    let _y: Tensor<(U4, U3)> = layer.forward(&x);
}
