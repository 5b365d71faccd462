// With stride 2 the output is 16 x 16; a gradient of the input's size 32 x 32 is refused.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let conv = Conv::<U3, U8, U3, U3, U2, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3, U32, U32)>::zeros();
    let dy = Tensor::<(U4, U8, U32, U32)>::zeros();
    let _ = conv.backward(&x, &dy);
}
