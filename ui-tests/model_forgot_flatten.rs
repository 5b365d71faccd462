// A convolution's (N, C, H, W) output reaches an Affine layer: Flatten is missing between them.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Conv, Init, MaxPool2d, Module, ReLU, Tensor};

type Cnn = (
    Conv<U1, U32, U3, U3, U1, U1>,
    ReLU,
    MaxPool2d<U2>,
    Affine<U512, U10>,
);

fn main() {
    let model: Cnn = Init::init(&mut StdRng::seed_from_u64(0));
    let _logits = model.infer(&Tensor::<(U2, U1, U8, U8)>::zeros());
}
