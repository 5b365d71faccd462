// A Conv has a bias: `()` for it is the mistake (`Conv2d<…, NoBias>` is the layer without one).
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let _conv = Conv::<U3, U8, U3, U3>::new(Tensor::zeros(), ());
}
