// A stride-2 block with more filters inside a Residual: x + block(x) adds two shapes.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Conv, Init, Module, ReLU, Residual, Tensor};

fn main() {
    let block: Residual<(Conv<U16, U32, U3, U3, U2, U1>, ReLU)> =
        Init::init(&mut StdRng::seed_from_u64(0));
    let _y = block.infer(&Tensor::<(U8, U16, U14, U14)>::zeros());
}
