// The gradient of a 3-output layer passed to a layer with 2 outputs.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U4)>::zeros();
    let dy = Tensor::<(U8, U3)>::zeros();
    let _ = layer.backward(&x, &dy);
}
