// An Affine of f32 takes an f32 bias: an f64 one is the mistake.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let b = Tensor::<(U4,), f64>::zeros();
    let _layer = Affine::<U3, U4, f32>::new(Tensor::zeros(), b);
}
