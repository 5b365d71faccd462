// 100 features into a batch normalisation of 64.
use shaped::{typenum::*, BatchNorm1d, Tensor};

fn main() {
    let bn = BatchNorm1d::<U64>::new();
    let _y = bn.forward(&Tensor::<(U32, U100)>::zeros());
}
