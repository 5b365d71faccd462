// The hidden layer has 128 outputs; the next layer was declared with 100 inputs.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{Init, typenum::*, Affine, Context, Module, ReLU, Tensor};

fn main() {
    let mut model: (Affine<U64, U128>, ReLU, Affine<U100, U10>) = Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U32, U64)>::zeros();
    let mut work = Default::default();
    let _logits = model.forward_train(&x, &mut work, &mut Context::new(0));
}
