// 32 channels of 4 x 4 flatten to 512 features, but the first Affine layer expects 256.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{Init, typenum::*, Affine, Conv, Flatten, MaxPool2d, Module, ReLU, Tensor};

type Cnn = (
    Conv<U1, U32, U3, U3, U1, U1>,
    ReLU,
    MaxPool2d<U2>,
    Flatten,
    Affine<U256, U64>,
    ReLU,
    Affine<U64, U10>,
);

fn main() {
    let model: Cnn = Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U32, U1, U8, U8)>::zeros();
    let _logits = model.infer(&x);
}
