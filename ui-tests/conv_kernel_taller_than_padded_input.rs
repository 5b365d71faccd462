// A 7 x 3 kernel on a 5 x 9 input with no padding: 7 rows do not fit in 5.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let conv = Conv::<U1, U4, U7, U3>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U5, U9)>::zeros();
    let _y = conv.forward(&x);
}
