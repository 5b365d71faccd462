// Affine<DI = 3, DO = 4> has one bias per output, (4,); a bias of the inputs' size is the
// mistake.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let b = Tensor::<(U3,)>::zeros();
    let _layer = Affine::<U3, U4>::new(Tensor::zeros(), b);
}
