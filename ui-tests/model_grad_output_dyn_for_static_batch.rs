// A model run on a static batch (U32) returns an output of static batch: its gradient must
// have the same dim types, not a runtime batch (Dyn) of the same size. The error names both.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Context, Dyn, Init, Module, Params, ReLU, Tensor};

fn main() {
    let mut model: (Affine<U64, U128>, ReLU, Affine<U128, U10>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U32, U64)>::zeros();
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let _logits = model.forward_train(&x, &mut work, &mut Context::new(0));
    let dlogits = Tensor::<(Dyn, U10)>::zeros_with((Dyn(32), U10::new()));
    model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
}
