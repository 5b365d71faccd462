// A Conv2d without bias (NoBias) takes `()` for its bias; a bias tensor is the mistake.
use shaped::{typenum::*, Conv2d, NoBias, Tensor};

fn main() {
    let b = Tensor::<(U8,)>::zeros();
    let _conv = Conv2d::<U3, U8, U3, U3, U1, U1, U1, U1, NoBias>::new(Tensor::zeros(), b);
}
