// ⌊(32 + 2 − 3) / 2⌋ + 1 = 16, not 15.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let conv = Conv::<U3, U8, U3, U3, U2, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3, U32, U32)>::zeros();
    let _y: Tensor<(U4, U8, U15, U15)> = conv.forward(&x);
}
