// Conv<C = 3, K = 8, 3 x 3> takes its weight as (K, C, HF, WF) = (8, 3, 3, 3); a weight made for
// 1 input channel is the mistake.
use shaped::{typenum::*, Conv, Tensor};

fn main() {
    let w = Tensor::<(U8, U1, U3, U3)>::zeros();
    let _conv = Conv::<U3, U8, U3, U3>::new(w, Tensor::zeros());
}
