// A grayscale batch (1 channel) fed to a convolution built for RGB (3 channels).
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let conv = Conv::<U3, U16, U3, U3, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U8, U1, U32, U32)>::zeros();
    let _y = conv.forward(&x);
}
