// An Affine of f32 takes an f32 weight: an f64 one is the mistake (convert it first).
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let w = Tensor::<(U4, U3), f64>::zeros();
    let _layer = Affine::<U3, U4, f32>::new(w, Tensor::zeros());
}
