// The first convolution makes 8 channels; the second was declared for 4.
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Context, Conv, Init, Module, ReLU, Tensor};

fn main() {
    let mut model: (Conv<U1, U8, U3, U3, U1, U1>, ReLU, Conv<U4, U16, U3, U3, U2, U1>) =
        Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U2, U1, U16, U16)>::zeros();
    let mut work = Default::default();
    let _y = model.forward_train(&x, &mut work, &mut Context::new(0));
}
