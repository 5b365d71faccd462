// A Conv of f32 takes an f32 weight: an f64 one is the mistake.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let w = Tensor::<(U8, U3, U3, U3), f64>::zeros();
    let _conv = Conv::<U3, U8, U3, U3, U1, U0, f32>::new(w, Tensor::zeros());
}
