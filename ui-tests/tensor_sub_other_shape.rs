// Two tensors subtracted element by element must have one shape: (4, 3) here, not (4, 2).
use shaped::{typenum::*, Tensor};

fn main() {
    let a = Tensor::<(U4, U3)>::zeros();
    let b = Tensor::<(U4, U2)>::zeros();
    let _difference = a.sub(&b);
}
