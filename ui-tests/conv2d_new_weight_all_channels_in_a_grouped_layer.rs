// A grouped Conv2d (8 channels in 2 groups, 6 filters) takes its weight as (K, C/G, HF, WF) =
// (6, 4, 3, 3): each filter sees the 4 channels of its group. A weight over all 8 channels is
// the mistake.
use shaped::{typenum::*, Conv2d, Tensor};

fn main() {
    let w = Tensor::<(U6, U8, U3, U3)>::zeros();
    let _conv = Conv2d::<U8, U6, U3, U3, U1, U1, U1, U2>::new(w, Tensor::zeros());
}
