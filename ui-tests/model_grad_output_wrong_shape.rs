// The gradient given to a model's backward_train must have the shape of the output
// forward_train returned: (32, 10) for this classifier, not (32, 2). The error names the rule
// and both shapes in decimal (the same rule applies to a single layer's backward_train).
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Context, Init, Module, Params, ReLU, Tensor};

fn main() {
    let mut model: (Affine<U64, U128>, ReLU, Affine<U128, U10>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U32, U64)>::zeros();
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let _logits = model.forward_train(&x, &mut work, &mut Context::new(0));
    let dlogits = Tensor::<(U32, U2)>::zeros();
    model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
}
