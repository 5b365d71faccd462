// An optimizer steps a model with that model's own gradients only.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{Init, typenum::*, Affine, Module, ReLU, Sgd, Tensor};

fn main() {
    let mut small: (Affine<U4, U8>, ReLU, Affine<U8, U2>) = Init::init(&mut StdRng::seed_from_u64(0));
    let wide: (Affine<U4, U16>, ReLU, Affine<U16, U2>) = Init::init(&mut StdRng::seed_from_u64(0));
    let (y, cache) = wide.forward_train(Tensor::<(U3, U4)>::zeros());
    let (_, wide_grads) = wide.backward_train(cache, &y);
    let mut opt = Sgd::new(0.1);
    opt.step(&mut small, &wide_grads);
}
