// A stride of 0 has no output size.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let conv = Conv::<U1, U4, U3, U3, U0, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U8, U8)>::zeros();
    let _y = conv.forward(&x);
}
