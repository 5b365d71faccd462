// A 3 x 3 kernel dilated by 3 spans 7 columns: more than the 6 of the input (no padding).
use shaped::{typenum::*, Conv2d, Tensor};

fn main() {
    let conv = Conv2d::<U1, U4, U3, U3, U1, U0, U3>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U2, U1, U9, U6)>::zeros();
    let _y = conv.forward(&x);
}
