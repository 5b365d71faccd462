// The block halves the height and width (stride 2), the shortcut keeps them (stride 1).
use rand::{rngs::StdRng, SeedableRng};
use shaped::{typenum::*, Conv, Init, Module, Projected, ReLU, Tensor};

type Down = Projected<
    (Conv<U16, U32, U3, U3, U2, U1>, ReLU, Conv<U32, U32, U3, U3, U1, U1>),
    (Conv<U16, U32, U1, U1, U1, U0>,),
>;

fn main() {
    let down: Down = Init::init(&mut StdRng::seed_from_u64(0));
    let _y = down.infer(&Tensor::<(U8, U16, U14, U14)>::zeros());
}
