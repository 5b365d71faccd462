// An optimizer steps a model with that model's own gradients only.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{Init, typenum::*, Affine, Params, ReLU, Sgd};

fn main() {
    let mut small: (Affine<U4, U8>, ReLU, Affine<U8, U2>) = Init::init(&mut StdRng::seed_from_u64(0));
    let wide: (Affine<U4, U16>, ReLU, Affine<U16, U2>) = Init::init(&mut StdRng::seed_from_u64(0));
    let wide_grads = wide.zero_grads();
    let mut opt = Sgd::new(0.1).unwrap();
    opt.step(&mut small, &wide_grads);
}
