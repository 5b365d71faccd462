// Affine<DI = 3, DO = 4> takes its weight as (DO, DI) = (4, 3), PyTorch's layout; a weight
// written (in, out) = (3, 4) is the mistake.
use shaped::{typenum::*, Affine, Tensor};

fn main() {
    let w = Tensor::<(U3, U4)>::zeros();
    let _layer = Affine::<U3, U4>::new(w, Tensor::zeros());
}
