// A model of two blocks; the third layer of the second block (`model.1.2`) was declared for 30
// inputs, and the layer before it gives 32. The error names both indices: `Layer2`, `Layer1`.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Context, Init, Module, ReLU, Tensor};

type Net = ((Affine<U64, U128>, ReLU), (Affine<U128, U32>, ReLU, Affine<U30, U10>));

fn main() {
    let mut model: Net = Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U8, U64)>::zeros();
    let mut work = Default::default();
    let _y = model.forward_train(&x, &mut work, &mut Context::new(0));
}
