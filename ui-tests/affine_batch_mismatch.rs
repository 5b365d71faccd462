// grad_output from a batch of 16 passed with an input batch of 8.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let layer = Affine::<U4, U2>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U4)>::zeros();
    let dy = Tensor::<(U16, U2)>::zeros();
    let _ = layer.backward(&x, &dy);
}
