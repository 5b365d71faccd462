// A convolution makes 8 channels; the batch normalisation after it was declared for 4.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, BatchNorm2d, Conv, Init, Module, ReLU, Tensor};

fn main() {
    let model: (Conv<U1, U8, U3, U3, U1, U1>, BatchNorm2d<U4>, ReLU) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let _y = model.infer(&Tensor::<(U2, U1, U8, U8)>::zeros());
}
