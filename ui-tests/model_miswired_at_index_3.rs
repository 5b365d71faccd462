// Five layers; the one at index 3 (PyTorch's `model.3`) was declared for 30 inputs, and layer 2
// gives it 32. The error names the rule, then the layer: `Layer3`.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Flatten, Init, Module, ReLU, Sigmoid, Tensor};

type Net = (Flatten, Affine<U64, U32>, ReLU, Affine<U30, U10>, Sigmoid);

fn main() {
    let model: Net = Init::init(&mut StdRng::seed_from_u64(0));
    let _y = model.infer(&Tensor::<(U4, U1, U8, U8)>::zeros());
}
