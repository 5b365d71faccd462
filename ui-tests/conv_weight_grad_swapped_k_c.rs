// The weight gradient is (K, C, HF, WF) = (8, 3, 3, 3), like the weight, not (C, K, ..).
use shaped::{typenum::*, Conv, ConvGrads, Tensor};

fn main() {
    let conv = Conv::<U3, U8, U3, U3, U1, U1>::new(Tensor::zeros(), Tensor::zeros());
    let x = Tensor::<(U4, U3, U8, U8)>::zeros();
    let dy = Tensor::<(U4, U8, U8, U8)>::zeros();
    let (_dx, grads): (_, ConvGrads<U8, U3, U3, U3>) = conv.backward(&x, &dy);
    let _ = grads;
}
