// A 3 x 7 kernel on a 9 x 3 input padded by 1: 7 columns do not fit in 3 + 2.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let conv = Conv::<U1, U4, U3, U7, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U9, U3)>::zeros();
    let _y = conv.forward(&x);
}
