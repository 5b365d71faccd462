// A BatchNorm1d given images (N, C, H, W): it takes (N, C) or (N, C, L).
use shaped::{typenum::*, BatchNorm1d, Tensor};

fn main() {
    let bn = BatchNorm1d::<U16>::new();
    let _y = bn.forward(&Tensor::<(U2, U16, U4, U4)>::zeros());
}
