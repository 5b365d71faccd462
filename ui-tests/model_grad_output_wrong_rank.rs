// The gradient of a classifier's (N, classes) output has rank 2: a per-row vector (N,) is
// another rank, and the error says so.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Context, Init, Module, Params, ReLU, Tensor};

fn main() {
    let mut model: (Affine<U64, U128>, ReLU, Affine<U128, U10>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U32, U64)>::zeros();
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let _logits = model.forward_train(&x, &mut work, &mut Context::new(0));
    let dlogits = Tensor::<(U32,)>::zeros();
    model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
}
