// A BatchNorm2d after Flatten: the vectors (N, C·H·W) need a BatchNorm1d.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, BatchNorm2d, Conv, Flatten, Init, Module, Tensor};

fn main() {
    let model: (Conv<U1, U4, U3, U3, U1, U1>, Flatten, BatchNorm2d<U64>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let _y = model.infer(&Tensor::<(U2, U1, U4, U4)>::zeros());
}
