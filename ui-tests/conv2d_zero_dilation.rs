// Dilation 0: the taps of the kernel would all fall on one input element.
use shaped::{typenum::*, Conv2d, Tensor};

fn main() {
    let conv = Conv2d::<U1, U4, U3, U3, U1, U1, U0>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U8, U8)>::zeros();
    let _y = conv.forward(&x);
}
