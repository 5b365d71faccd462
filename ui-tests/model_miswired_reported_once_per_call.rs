// A training step on a mis-wired model: one error at each call of the model (forward_train,
// backward_train), each naming the rule and the layer, none twice. rustc reports a failed bound
// at every call that requires it, so a model used at two calls is reported at both.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Affine, Context, Init, Module, Params, ReLU, Tensor};

fn main() {
    let mut model: (Affine<U64, U128>, ReLU, Affine<U100, U10>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U32, U64)>::zeros();
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    let _logits = model.forward_train(&x, &mut work, &mut Context::new(0));
    let dlogits = Tensor::<(U32, U10)>::zeros();
    model.backward_train(&x, &dlogits, &mut work, &mut grads, false);
}
