// A residual block in a model whose block downsamples: it needs a shortcut (Projected).
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Context, Conv, Init, Module, ReLU, Residual, Tensor};

type Net = (
    Conv<U1, U8, U3, U3, U1, U1>,
    ReLU,
    Residual<(Conv<U8, U8, U3, U3, U2, U1>, ReLU, Conv<U8, U8, U3, U3, U1, U1>)>,
);

fn main() {
    let mut model: Net = Init::init(&mut StdRng::seed_from_u64(0));
    let x = Tensor::<(U2, U1, U16, U16)>::zeros();
    let mut work = Default::default();
    let _y = model.forward_train(&x, &mut work, &mut Context::new(0));
}
