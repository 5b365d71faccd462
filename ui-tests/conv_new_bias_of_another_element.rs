// A Conv of f32 takes an f32 bias: an f64 one is the mistake.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let b = Tensor::<(U8,), f64>::zeros();
    let _conv = Conv::<U3, U8, U3, U3, U1, U0, f32>::new(Tensor::zeros(), b);
}
