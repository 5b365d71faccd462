// `backward_train` takes the gradient as a tensor of the output's type: a `Vec` is the mistake.
use shaped::{typenum::*, Affine, Context, Module, Params, Seeded, Tensor};

fn main() {
    let mut model = Affine::<U3, U2>::seeded(0);
    let x = Tensor::<(U4, U3)>::zeros();
    let mut work = Default::default();
    let mut grads = model.zero_grads();
    model.forward_train(&x, &mut work, &mut Context::new(0));
    let dy = vec![1.0f32; 8];
    model.backward_train(&x, &dy, &mut work, &mut grads, true);
}
