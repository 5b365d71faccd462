// Two tensors multiplied element by element must have one shape: (4, 3) here, not (3, 4).
use shaped::{typenum::*, Tensor};

fn main() {
    let a = Tensor::<(U4, U3)>::zeros();
    let b = Tensor::<(U3, U4)>::zeros();
    let _product = a.mul(&b);
}
