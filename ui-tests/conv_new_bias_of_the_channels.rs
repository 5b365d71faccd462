// Conv<C = 3, K = 8> has one bias per filter, (8,); a bias of the input channels' size is the
// mistake.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let b = Tensor::<(U3,)>::zeros();
    let _conv = Conv::<U3, U8, U3, U3>::new(Tensor::zeros(), b);
}
