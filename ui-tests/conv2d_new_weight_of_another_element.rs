// A Conv2d of f32 takes an f32 weight: an f64 one is the mistake.
use shaped::{typenum::*, Bias, Conv2d, Tensor};

fn main() {
    let w = Tensor::<(U8, U3, U3, U3), f64>::zeros();
    let _conv = Conv2d::<U3, U8, U3, U3, U1, U1, U1, U1, Bias, f32>::new(w, Tensor::zeros());
}
