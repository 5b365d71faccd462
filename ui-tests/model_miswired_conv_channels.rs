// The first convolution makes 8 channels; the second was declared for 4.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Conv, Init, Module, ReLU, Tensor};

fn main() {
    let model: (Conv<U1, U8, U3, U3, U1, U1>, ReLU, Conv<U4, U16, U3, U3, U2, U1>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let (_y, _cache) = model.forward_train(Tensor::<(U2, U1, U16, U16)>::zeros());
}
